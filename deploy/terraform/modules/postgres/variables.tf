variable "name" {
  type        = string
  description = "Identifier prefix of the instance and its groups."
}

variable "vpc_id" {
  type        = string
  description = "VPC of the database."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets over the zones (the standby goes to another zone than the primary)."
}

variable "allowed_security_group_ids" {
  type        = list(string)
  description = "Security groups admitted on port 5432 (the EKS cluster's)."
}

variable "engine_version" {
  type        = string
  description = "PostgreSQL version: a major (16) follows the default minor and its upgrades; pgvector ships with every RDS PostgreSQL 16."
}

variable "instance_class" {
  type        = string
  description = "RDS instance class (e.g. db.r7g.large)."
}

variable "allocated_storage_gb" {
  type        = number
  description = "Initial gp3 storage in GiB."
}

variable "max_allocated_storage_gb" {
  type        = number
  description = "Upper bound of storage autoscaling in GiB."
}

variable "database_name" {
  type        = string
  description = "Database created on the instance for MemBank."
}

variable "master_username" {
  type        = string
  description = "Master user (administration only: CREATE EXTENSION vector, the application role); its password is kept by RDS in Secrets Manager."
}

variable "app_username" {
  type        = string
  description = "Role MemBank connects as (created once by the operator: see the README); its password is generated and kept in Secrets Manager."
}

variable "backup_retention_days" {
  type        = number
  description = "Days of automated backups, i.e. the window of point-in-time recovery (1-35)."

  validation {
    condition     = var.backup_retention_days >= 1 && var.backup_retention_days <= 35
    error_message = "RDS keeps 1 to 35 days of backups."
  }
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse to delete the instance (turn off deliberately before a destroy)."
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
}
