variable "environment" {
  type        = string
  description = "Environment name (staging, production): part of every resource name and the GitHub environment the deploy role trusts."
}

variable "region" {
  type        = string
  description = "AWS region of the environment."
}

variable "availability_zones" {
  type        = list(string)
  description = "Three availability zones of the region."
}

variable "vpc_cidr" {
  type        = string
  description = "IPv4 CIDR of the VPC (a /16 leaves /20 subnets)."
  default     = "10.40.0.0/16"
}

variable "single_nat_gateway" {
  type        = bool
  description = "One NAT gateway instead of one per zone (staging: cheaper; production: false)."
  default     = false
}

variable "kubernetes_version" {
  type        = string
  description = "Kubernetes minor version of EKS."
  default     = "1.33"
}

variable "cluster_public_access_cidrs" {
  type        = list(string)
  description = "CIDRs that may reach the Kubernetes API from outside the VPC (the CI runners, operators); empty = private only."
}

variable "node_groups" {
  type = map(object({
    instance_types = list(string)
    capacity_type  = string
    min_size       = number
    max_size       = number
    desired_size   = number
    labels         = map(string)
  }))
  description = "EKS managed node groups by name."
}

variable "log_retention_days" {
  type        = number
  description = "Days the EKS control plane logs are kept."
  default     = 90
}

variable "postgres_engine_version" {
  type        = string
  description = "RDS PostgreSQL version (a major follows the default minor)."
  default     = "16"
}

variable "postgres_instance_class" {
  type        = string
  description = "RDS instance class."
}

variable "postgres_allocated_storage_gb" {
  type        = number
  description = "Initial PostgreSQL storage in GiB."
  default     = 100
}

variable "postgres_max_allocated_storage_gb" {
  type        = number
  description = "Upper bound of PostgreSQL storage autoscaling in GiB."
  default     = 1000
}

variable "postgres_database_name" {
  type        = string
  description = "Database MemBank uses."
  default     = "membank"
}

variable "postgres_master_username" {
  type        = string
  description = "RDS master user (administration only; password managed by RDS in Secrets Manager)."
  default     = "membank_admin"
}

variable "postgres_app_username" {
  type        = string
  description = "PostgreSQL role MemBank connects as (password generated into the database URL secret)."
  default     = "membank"
}

variable "postgres_backup_retention_days" {
  type        = number
  description = "Days of RDS automated backups: the point-in-time recovery window."
  default     = 14
}

variable "deletion_protection" {
  type        = bool
  description = "Protect PostgreSQL from deletion and the backup bucket from a destroy while it holds backups."
  default     = true
}

variable "redis_engine_version" {
  type        = string
  description = "ElastiCache Redis OSS version."
  default     = "7.1"
}

variable "redis_node_type" {
  type        = string
  description = "ElastiCache node type."
}

variable "redis_replicas" {
  type        = number
  description = "Redis replicas beside the primary (at least 1 for failover)."
  default     = 2
}

variable "redis_snapshot_retention_days" {
  type        = number
  description = "Days of Redis snapshots (0 = none: it holds only what MemBank may lose)."
  default     = 0
}

variable "backup_bucket_name" {
  type        = string
  description = "Globally unique name of the S3 backup bucket."
}

variable "backup_infrequent_access_after_days" {
  type        = number
  description = "Days before a backup moves to STANDARD_IA."
  default     = 30
}

variable "backup_glacier_after_days" {
  type        = number
  description = "Days before a backup moves to GLACIER."
  default     = 90
}

variable "backup_expire_after_days" {
  type        = number
  description = "Days before a backup is deleted."
  default     = 365
}

variable "backup_noncurrent_expire_after_days" {
  type        = number
  description = "Days an overwritten or deleted backup version is kept."
  default     = 30
}

variable "namespace" {
  type        = string
  description = "Kubernetes namespace of the MemBank release."
  default     = "membank"
}

variable "service_account" {
  type        = string
  description = "Name of the chart's Kubernetes service account (given the backup role)."
  default     = "membank"
}

variable "github_repository" {
  type        = string
  description = "GitHub repository (owner/name) whose deploy workflows may assume the deploy role."
}

variable "github_oidc_provider_arn" {
  type        = string
  description = "ARN of an existing IAM OIDC provider for GitHub Actions in the account; empty = create one."
  default     = ""
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
  default     = {}
}
