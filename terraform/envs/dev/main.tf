# taskplane on AWS, development: same modules as prod, smaller and cheaper
# (one NAT gateway, single-AZ database, no deletion protection, public API
# endpoint restricted to an allow-list). Everything is named from var.name; the
# region comes from var.region only.

locals {
  environment = "dev"

  required_tags = {
    Project     = "taskplane"
    Environment = local.environment
    ManagedBy   = "terraform"
  }
  tags = merge(var.tags, local.required_tags)
}

module "network" {
  source = "../../modules/network"

  name                    = var.name
  cluster_name            = var.name
  vpc_cidr                = var.vpc_cidr
  availability_zones      = var.availability_zones
  single_nat_gateway      = true
  flow_log_retention_days = 30
}

module "cluster" {
  source = "../../modules/cluster"

  name               = var.name
  kubernetes_version = var.kubernetes_version
  vpc_id             = module.network.vpc_id
  subnet_ids         = module.network.private_subnet_ids

  endpoint_public_access       = var.endpoint_public_access
  endpoint_public_access_cidrs = var.endpoint_public_access_cidrs
  admin_principal_arns         = var.admin_principal_arns
  log_retention_days           = 30

  node_instance_types = var.node_instance_types
  node_capacity_type  = var.node_capacity_type
  node_min_size       = var.node_min_size
  node_max_size       = var.node_max_size
  node_desired_size   = var.node_desired_size
}

module "database" {
  source = "../../modules/database"

  name                       = var.name
  vpc_id                     = module.network.vpc_id
  db_subnet_group_name       = module.network.database_subnet_group_name
  allowed_security_group_ids = [module.cluster.node_security_group_id]

  instance_class            = var.db_instance_class
  allocated_storage_gib     = 20
  max_allocated_storage_gib = 50

  multi_az                     = false
  deletion_protection          = false
  skip_final_snapshot          = true
  backup_retention_days        = 1
  performance_insights_enabled = false
  monitoring_interval_seconds  = 0
  log_retention_days           = 30
}

module "registry" {
  source = "../../modules/registry"

  repository_prefix = var.name
  images            = var.images
  force_delete      = true
}

module "secrets" {
  source = "../../modules/secrets"

  name                 = var.name
  recovery_window_days = 0
}

module "identity" {
  source = "../../modules/identity"

  name         = var.name
  cluster_name = module.cluster.cluster_name

  secret_readers = {
    external-secrets = {
      namespace       = var.external_secrets_namespace
      service_account = "external-secrets"
      secret_arns = [
        module.database.master_user_secret_arn,
        module.secrets.platform_secret_arn,
        module.secrets.service_tokens_secret_arn,
      ]
      kms_key_arns = [module.database.kms_key_arn, module.secrets.kms_key_arn]
    }
  }
}

module "platform" {
  source = "../../modules/platform"
  count  = var.enable_platform ? 1 : 0

  chart_path       = coalesce(var.chart_path, abspath("${path.root}/../../../charts/taskplane"))
  chart_repository = var.chart_repository
  chart_version    = var.chart_version

  environment             = "development"
  image_registry          = module.registry.registry_host
  image_repository_prefix = module.registry.repository_prefix
  image_tag               = var.image_tag

  database_host       = module.database.address
  database_port       = module.database.port
  database_name       = module.database.database_name
  database_secret_arn = module.database.master_user_secret_arn

  platform_secret_arn       = module.secrets.platform_secret_arn
  service_tokens_secret_arn = module.secrets.service_tokens_secret_arn
  bootstrap_admin_email     = var.bootstrap_admin_email

  external_secrets_namespace       = var.external_secrets_namespace
  external_secrets_service_account = "external-secrets"
  observability_enabled            = var.observability_enabled

  # The Pod Identity association must exist before the External Secrets pods start.
  depends_on = [module.identity]
}
