terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }

  # The state holds generated secrets (the Redis AUTH token, the application's database password): an encrypted
  # S3 bucket with narrow access, one state per environment (environments/<env>.s3.tfbackend, README.md).
  backend "s3" {}
}

provider "aws" {
  region = var.region

  default_tags {
    tags = merge(var.tags, { Environment = var.environment, Service = "membank" })
  }
}
