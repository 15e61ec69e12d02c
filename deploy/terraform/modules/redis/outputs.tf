output "primary_endpoint" {
  description = "Host name of the primary (it follows a failover to the promoted replica)."
  value       = aws_elasticache_replication_group.this.primary_endpoint_address
}

output "port" {
  description = "Redis port (TLS)."
  value       = aws_elasticache_replication_group.this.port
}

output "redis_url_secret_arn" {
  description = "Secrets Manager secret holding MEMBANK_REDIS_URL (rediss:// with the AUTH token)."
  value       = aws_secretsmanager_secret.redis_url.arn
}

output "security_group_id" {
  description = "Security group of the replication group."
  value       = aws_security_group.this.id
}
