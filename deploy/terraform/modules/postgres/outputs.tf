output "address" {
  description = "Host name of the primary (it follows a Multi-AZ failover to the promoted standby)."
  value       = aws_db_instance.this.address
}

output "port" {
  description = "PostgreSQL port."
  value       = aws_db_instance.this.port
}

output "database_name" {
  description = "Name of MemBank's database."
  value       = aws_db_instance.this.db_name
}

output "master_user_secret_arn" {
  description = "Secrets Manager secret (JSON username and password) of the master user, rotated by RDS."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}

output "database_url_secret_arn" {
  description = "Secrets Manager secret holding MEMBANK_DATABASE_URL (the application role)."
  value       = aws_secretsmanager_secret.database_url.arn
}

output "security_group_id" {
  description = "Security group of the instance."
  value       = aws_security_group.this.id
}
