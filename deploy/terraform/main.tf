# One MemBank environment on AWS: network, EKS, PostgreSQL, Redis, the backup bucket and the IAM roles of the
# service account and of the GitHub deploys. One state per environment, one tfvars file each (README.md).
locals {
  name = "membank-${var.environment}"
}

module "network" {
  source             = "./modules/network"
  name               = local.name
  cidr_block         = var.vpc_cidr
  availability_zones = var.availability_zones
  single_nat_gateway = var.single_nat_gateway
  cluster_name       = local.name
  tags               = var.tags
}

module "eks" {
  source              = "./modules/eks"
  name                = local.name
  kubernetes_version  = var.kubernetes_version
  subnet_ids          = module.network.private_subnet_ids
  public_access_cidrs = var.cluster_public_access_cidrs
  node_groups         = var.node_groups
  log_retention_days  = var.log_retention_days
  tags                = var.tags
}

module "postgres" {
  source                     = "./modules/postgres"
  name                       = local.name
  vpc_id                     = module.network.vpc_id
  subnet_ids                 = module.network.private_subnet_ids
  allowed_security_group_ids = [module.eks.cluster_security_group_id]
  engine_version             = var.postgres_engine_version
  instance_class             = var.postgres_instance_class
  allocated_storage_gb       = var.postgres_allocated_storage_gb
  max_allocated_storage_gb   = var.postgres_max_allocated_storage_gb
  database_name              = var.postgres_database_name
  master_username            = var.postgres_master_username
  app_username               = var.postgres_app_username
  backup_retention_days      = var.postgres_backup_retention_days
  deletion_protection        = var.deletion_protection
  tags                       = var.tags
}

module "redis" {
  source                     = "./modules/redis"
  name                       = local.name
  vpc_id                     = module.network.vpc_id
  subnet_ids                 = module.network.private_subnet_ids
  allowed_security_group_ids = [module.eks.cluster_security_group_id]
  engine_version             = var.redis_engine_version
  node_type                  = var.redis_node_type
  replicas                   = var.redis_replicas
  snapshot_retention_days    = var.redis_snapshot_retention_days
  tags                       = var.tags
}

module "backups" {
  source                       = "./modules/backups"
  bucket_name                  = var.backup_bucket_name
  infrequent_access_after_days = var.backup_infrequent_access_after_days
  glacier_after_days           = var.backup_glacier_after_days
  expire_after_days            = var.backup_expire_after_days
  noncurrent_expire_after_days = var.backup_noncurrent_expire_after_days
  force_destroy                = !var.deletion_protection
  tags                         = var.tags
}

module "service_role" {
  source             = "./modules/service_role"
  name               = "${local.name}-service"
  oidc_provider_arn  = module.eks.oidc_provider_arn
  oidc_issuer        = module.eks.oidc_issuer
  namespace          = var.namespace
  service_account    = var.service_account
  backup_bucket_arn  = module.backups.bucket_arn
  backup_kms_key_arn = module.backups.kms_key_arn
  tags               = var.tags
}

# GitHub's OIDC provider exists once per AWS account: made here unless an ARN of an existing one is given.
resource "aws_iam_openid_connect_provider" "github" {
  count          = var.github_oidc_provider_arn == "" ? 1 : 0
  url            = "https://token.actions.githubusercontent.com"
  client_id_list = ["sts.amazonaws.com"]
}

module "deploy_role" {
  source                   = "./modules/deploy_role"
  name                     = "${local.name}-deploy"
  github_repository        = var.github_repository
  github_environment       = var.environment
  github_oidc_provider_arn = var.github_oidc_provider_arn != "" ? var.github_oidc_provider_arn : aws_iam_openid_connect_provider.github[0].arn
  cluster_name             = module.eks.cluster_name
  namespace                = var.namespace
  tags                     = var.tags
}
