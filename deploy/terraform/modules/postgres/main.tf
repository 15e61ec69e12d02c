# RDS PostgreSQL 16, Multi-AZ (a synchronous standby in another zone, promoted automatically), encrypted, TLS
# only. The master password never leaves AWS (manage_master_user_password); MemBank connects as its own role,
# whose URL (MEMBANK_DATABASE_URL) is kept in Secrets Manager.
resource "aws_db_subnet_group" "this" {
  name       = var.name
  subnet_ids = var.subnet_ids
  tags       = var.tags
}

resource "aws_security_group" "this" {
  name        = "${var.name}-postgres"
  description = "PostgreSQL of ${var.name}: 5432 from the cluster only"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "postgres" {
  for_each                     = toset(var.allowed_security_group_ids)
  security_group_id            = aws_security_group.this.id
  referenced_security_group_id = each.value
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
}

resource "aws_db_parameter_group" "this" {
  name   = "${var.name}-postgres16"
  family = "postgres16"
  tags   = var.tags

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  # Statements over a second are logged: the slow queries behind MemBankDbPoolSaturated.
  parameter {
    name  = "log_min_duration_statement"
    value = "1000"
  }
}

resource "aws_kms_key" "this" {
  description         = "${var.name}: PostgreSQL storage, snapshots and master secret"
  enable_key_rotation = true
  tags                = var.tags
}

resource "aws_db_instance" "this" {
  identifier                      = var.name
  engine                          = "postgres"
  engine_version                  = var.engine_version
  auto_minor_version_upgrade      = true
  instance_class                  = var.instance_class
  storage_type                    = "gp3"
  allocated_storage               = var.allocated_storage_gb
  max_allocated_storage           = var.max_allocated_storage_gb
  storage_encrypted               = true
  kms_key_id                      = aws_kms_key.this.arn
  db_name                         = var.database_name
  username                        = var.master_username
  manage_master_user_password     = true
  master_user_secret_kms_key_id   = aws_kms_key.this.arn
  multi_az                        = true
  db_subnet_group_name            = aws_db_subnet_group.this.name
  vpc_security_group_ids          = [aws_security_group.this.id]
  parameter_group_name            = aws_db_parameter_group.this.name
  publicly_accessible             = false
  backup_retention_period         = var.backup_retention_days
  copy_tags_to_snapshot           = true
  deletion_protection             = var.deletion_protection
  skip_final_snapshot             = false
  final_snapshot_identifier       = "${var.name}-final"
  performance_insights_enabled    = true
  performance_insights_kms_key_id = aws_kms_key.this.arn
  enabled_cloudwatch_logs_exports = ["postgresql"]
  tags                            = var.tags
}

# URL-safe characters only: the password goes into a postgresql:// URL unescaped.
resource "random_password" "app" {
  length  = 40
  special = false
}

resource "aws_secretsmanager_secret" "database_url" {
  name        = "${var.name}/membank-database-url"
  description = "MEMBANK_DATABASE_URL of ${var.name} (the application role, TLS required)"
  kms_key_id  = aws_kms_key.this.arn
  tags        = var.tags
}

resource "aws_secretsmanager_secret_version" "database_url" {
  secret_id = aws_secretsmanager_secret.database_url.id
  secret_string = format(
    "postgresql://%s:%s@%s:%d/%s?sslmode=require",
    var.app_username, random_password.app.result, aws_db_instance.this.address, aws_db_instance.this.port,
    var.database_name,
  )
}
