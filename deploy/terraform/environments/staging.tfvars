# terraform init -backend-config=environments/staging.s3.tfbackend
# terraform apply -var-file=environments/staging.tfvars
environment        = "staging"
region             = "eu-central-1"
availability_zones = ["eu-central-1a", "eu-central-1b", "eu-central-1c"]
vpc_cidr           = "10.41.0.0/16"
single_nat_gateway = true

cluster_public_access_cidrs = ["203.0.113.0/24"]
node_groups = {
  general = {
    instance_types = ["m7i.large"]
    capacity_type  = "SPOT"
    min_size       = 2
    max_size       = 4
    desired_size   = 2
    labels         = {}
  }
}

postgres_instance_class        = "db.t4g.medium"
postgres_backup_retention_days = 7
deletion_protection            = false

redis_node_type = "cache.t4g.small"
redis_replicas  = 1

backup_bucket_name = "example-membank-staging-backups"
github_repository  = "example/membank"
