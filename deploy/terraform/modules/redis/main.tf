# ElastiCache Redis as one shard (MemBank speaks to one Redis URL, not to a Redis Cluster) with replicas in the
# other zones, automatic failover, encryption at rest and in transit, and an AUTH token. The token is generated
# here and kept with the whole MEMBANK_REDIS_URL in Secrets Manager; it is in the Terraform state too (keep the
# state encrypted and its access narrow: README.md).
resource "aws_elasticache_subnet_group" "this" {
  name       = var.name
  subnet_ids = var.subnet_ids
  tags       = var.tags
}

resource "aws_security_group" "this" {
  name        = "${var.name}-redis"
  description = "Redis of ${var.name}: 6379 from the cluster only"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "redis" {
  for_each                     = toset(var.allowed_security_group_ids)
  security_group_id            = aws_security_group.this.id
  referenced_security_group_id = each.value
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
}

resource "aws_kms_key" "this" {
  description         = "${var.name}: Redis at rest and its URL secret"
  enable_key_rotation = true
  tags                = var.tags
}

# ElastiCache accepts 16-128 printable characters without @, " or /: letters and digits only.
resource "random_password" "auth_token" {
  length  = 64
  special = false
}

resource "aws_elasticache_parameter_group" "this" {
  name   = "${var.name}-redis7"
  family = "redis7"
  tags   = var.tags

  # Every MemBank key has a TTL; under memory pressure the least recently used go first (docs/caching.md).
  parameter {
    name  = "maxmemory-policy"
    value = "allkeys-lru"
  }
}

resource "aws_elasticache_replication_group" "this" {
  replication_group_id       = var.name
  description                = "MemBank cache, rate limits and locks of ${var.name}"
  engine                     = "redis"
  engine_version             = var.engine_version
  node_type                  = var.node_type
  num_cache_clusters         = var.replicas + 1
  port                       = 6379
  parameter_group_name       = aws_elasticache_parameter_group.this.name
  subnet_group_name          = aws_elasticache_subnet_group.this.name
  security_group_ids         = [aws_security_group.this.id]
  automatic_failover_enabled = true
  multi_az_enabled           = true
  at_rest_encryption_enabled = true
  kms_key_id                 = aws_kms_key.this.arn
  transit_encryption_enabled = true
  auth_token                 = random_password.auth_token.result
  # A new token is added beside the old one, so pods still holding the old URL keep working until restarted.
  auth_token_update_strategy = "ROTATE"
  snapshot_retention_limit   = var.snapshot_retention_days
  auto_minor_version_upgrade = true
  apply_immediately          = false
  tags                       = var.tags
}

resource "aws_secretsmanager_secret" "redis_url" {
  name        = "${var.name}/membank-redis-url"
  description = "MEMBANK_REDIS_URL of ${var.name} (TLS, AUTH token)"
  kms_key_id  = aws_kms_key.this.arn
  tags        = var.tags
}

resource "aws_secretsmanager_secret_version" "redis_url" {
  secret_id = aws_secretsmanager_secret.redis_url.id
  secret_string = format(
    "rediss://:%s@%s:%d/0",
    random_password.auth_token.result, aws_elasticache_replication_group.this.primary_endpoint_address,
    aws_elasticache_replication_group.this.port,
  )
}
