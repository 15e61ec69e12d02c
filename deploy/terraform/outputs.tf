output "cluster_name" {
  description = "EKS cluster name: the GitHub environment's variable EKS_CLUSTER_NAME."
  value       = module.eks.cluster_name
}

output "cluster_endpoint" {
  description = "URL of the Kubernetes API server."
  value       = module.eks.cluster_endpoint
}

output "deploy_role_arn" {
  description = "IAM role of the GitHub deploy and rollback jobs: the GitHub environment's variable AWS_DEPLOY_ROLE_ARN."
  value       = module.deploy_role.role_arn
}

output "service_account_role_arn" {
  description = "IAM role of the chart's service account (annotation eks.amazonaws.com/role-arn): the backup bucket."
  value       = module.service_role.role_arn
}

output "postgres_address" {
  description = "Host name of the PostgreSQL primary."
  value       = module.postgres.address
}

output "postgres_master_user_secret_arn" {
  description = "Secrets Manager secret of the RDS master user (administration: CREATE EXTENSION vector, the application role)."
  value       = module.postgres.master_user_secret_arn
}

output "database_url_secret_arn" {
  description = "Secrets Manager secret holding MEMBANK_DATABASE_URL."
  value       = module.postgres.database_url_secret_arn
}

output "redis_primary_endpoint" {
  description = "Host name of the Redis primary."
  value       = module.redis.primary_endpoint
}

output "redis_url_secret_arn" {
  description = "Secrets Manager secret holding MEMBANK_REDIS_URL."
  value       = module.redis.redis_url_secret_arn
}

output "backup_bucket_name" {
  description = "S3 bucket of the pg_dump backups."
  value       = module.backups.bucket_name
}
