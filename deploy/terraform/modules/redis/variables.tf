variable "name" {
  type        = string
  description = "Identifier of the replication group (at most 40 characters)."
}

variable "vpc_id" {
  type        = string
  description = "VPC of the replication group."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets over the zones (the replicas go to other zones than the primary)."
}

variable "allowed_security_group_ids" {
  type        = list(string)
  description = "Security groups admitted on port 6379 (the EKS cluster's)."
}

variable "engine_version" {
  type        = string
  description = "Redis OSS engine version (e.g. 7.1)."
}

variable "node_type" {
  type        = string
  description = "ElastiCache node type (e.g. cache.r7g.large)."
}

variable "replicas" {
  type        = number
  description = "Read replicas beside the primary (1 or more: automatic failover needs one)."

  validation {
    condition     = var.replicas >= 1 && var.replicas <= 5
    error_message = "Give 1 to 5 replicas: automatic failover and Multi-AZ need at least one."
  }
}

variable "snapshot_retention_days" {
  type        = number
  description = "Days of daily snapshots kept (0 = none: Redis holds only what MemBank may lose)."
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
}
