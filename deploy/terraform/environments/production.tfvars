# terraform init -backend-config=environments/production.s3.tfbackend
# terraform apply -var-file=environments/production.tfvars
environment        = "production"
region             = "eu-central-1"
availability_zones = ["eu-central-1a", "eu-central-1b", "eu-central-1c"]
vpc_cidr           = "10.40.0.0/16"

cluster_public_access_cidrs = ["203.0.113.0/24"]
node_groups = {
  general = {
    instance_types = ["m7i.xlarge"]
    capacity_type  = "ON_DEMAND"
    min_size       = 3
    max_size       = 9
    desired_size   = 3
    labels         = {}
  }
}

postgres_instance_class           = "db.r7g.large"
postgres_allocated_storage_gb     = 200
postgres_max_allocated_storage_gb = 2000
postgres_backup_retention_days    = 35

redis_node_type = "cache.r7g.large"
redis_replicas  = 2

backup_bucket_name = "example-membank-production-backups"
github_repository  = "example/membank"
