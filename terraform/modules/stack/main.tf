# One taskplane deployment on AWS: network -> cluster -> database -> registry ->
# secrets -> identity -> platform. The environments (envs/dev, envs/prod) call
# this module once and set only what differs between them: sizes, availability,
# protection, retention, endpoint access. Every name derives from var.name; the
# region comes from var.region only.

locals {
  # Required tags are merged last, so var.tags cannot override them. The root
  # module's AWS provider applies them as default_tags (output default_tags).
  required_tags = {
    Project     = "taskplane"
    Environment = var.environment
    ManagedBy   = "terraform"
  }
  tags = merge(var.tags, local.required_tags)

  # What a production deployment guarantees (var.production): the plan fails and names
  # every guarantee that does not hold. The settings have no defaults, so each
  # environment states them.
  production_guarantees = {
    "exactly 3 availability zones"                  = length(var.availability_zones) == 3
    "one NAT gateway per availability zone"         = !var.single_nat_gateway
    "at least 3 nodes, one per zone"                = var.node_group.min_size >= 3
    "a Multi-AZ database"                           = var.database.multi_az
    "database deletion protection"                  = var.database.deletion_protection
    "a final database snapshot"                     = !var.database.skip_final_snapshot
    "at least 7 days of database backups"           = var.database.backup_retention_days >= 7
    "ECR repositories that are never force-deleted" = !var.ecr_force_delete
    "deleted secrets that stay recoverable"         = var.secret_recovery_window_days > 0
  }

  chart_path = coalesce(var.chart_path, abspath("${path.module}/../../../charts/taskplane"))
}

module "network" {
  source = "../network"

  name                    = var.name
  cluster_name            = var.name
  vpc_cidr                = var.vpc_cidr
  availability_zones      = var.availability_zones
  single_nat_gateway      = var.single_nat_gateway
  flow_log_retention_days = var.log_retention_days
}

module "cluster" {
  source = "../cluster"

  name               = var.name
  kubernetes_version = var.kubernetes_version
  network            = module.network

  endpoint_public_access       = var.endpoint_public_access
  endpoint_public_access_cidrs = var.endpoint_public_access_cidrs
  admin_principal_arns         = var.admin_principal_arns
  log_retention_days           = var.log_retention_days

  node_group = var.node_group
}

module "database" {
  source = "../database"

  name    = var.name
  network = module.network
  allowed_security_groups = merge(
    { eks-nodes = module.cluster.node_security_group_id },
    { for f in module.notifications_lambda : "notifications-lambda" => f.security_group_id },
  )

  instance_class               = var.database.instance_class
  allocated_storage_gib        = var.database.allocated_storage_gib
  max_allocated_storage_gib    = var.database.max_allocated_storage_gib
  multi_az                     = var.database.multi_az
  deletion_protection          = var.database.deletion_protection
  skip_final_snapshot          = var.database.skip_final_snapshot
  backup_retention_days        = var.database.backup_retention_days
  performance_insights_enabled = var.database.performance_insights_enabled
  monitoring_interval_seconds  = var.database.monitoring_interval_seconds
  proxy_enabled                = var.database.proxy_enabled
  log_retention_days           = var.log_retention_days
}

module "registry" {
  source = "../registry"

  repository_prefix = var.name
  force_delete      = var.ecr_force_delete
}

module "secrets" {
  source = "../secrets"

  name                 = var.name
  recovery_window_days = var.secret_recovery_window_days
}

module "identity" {
  source = "../identity"

  name         = var.name
  cluster_name = module.cluster.cluster_name

  secret_readers = {
    external-secrets = {
      namespace       = var.external_secrets_namespace
      service_account = "external-secrets"
      secret_arns = [
        module.database.master_user_secret_arn,
        module.secrets.platform_secret_arn,
        module.secrets.notification_kek_secret_arn,
      ]
      kms_key_arns = [module.database.kms_key_arn, module.secrets.kms_key_arn]
    }
  }
}

module "platform" {
  source = "../platform"
  count  = var.enable_platform ? 1 : 0

  chart_path       = local.chart_path
  chart_repository = var.chart_repository
  chart_version    = var.chart_version

  environment             = var.production ? "production" : "development"
  image_registry          = module.registry.registry_host
  image_repository_prefix = module.registry.repository_prefix
  image_tag               = var.image_tag

  database_host = module.database.address
  database_port = module.database.port
  database_name = module.database.database_name
  secret_arns = {
    database         = module.database.master_user_secret_arn
    platform         = module.secrets.platform_secret_arn
    notification_kek = module.secrets.notification_kek_secret_arn
  }
  bootstrap_admin_email = var.bootstrap_admin_email

  kubernetes_issuer_url = module.cluster.cluster_oidc_issuer_url

  external_secrets_namespace       = var.external_secrets_namespace
  external_secrets_service_account = "external-secrets"
  observability_enabled            = var.observability_enabled
  notification_settings            = var.notification_settings

  # The Pod Identity association must exist before the External Secrets pods start.
  depends_on = [module.identity]
}

# Off unless var.notifications_lambda is set: the serverless delivery path (SNS topic
# and Lambda function running the notification-service image's Lambda target).
module "notifications_lambda" {
  source = "../notifications_lambda"
  count  = var.notifications_lambda == null ? 0 : 1

  name                  = var.name
  image_uri             = "${module.registry.repository_urls["notification-service"]}:${try(var.notifications_lambda.image_tag, "")}"
  network               = module.network
  ses_identity          = try(var.notifications_lambda.ses_identity, "")
  environment_variables = var.notification_settings
  log_retention_days    = var.log_retention_days

  # DATABASE_URL is built at cold start from the RDS-managed secret, never put in env.
  database_secret_arn         = module.database.master_user_secret_arn
  database_host               = module.database.address
  database_port               = module.database.port
  database_name               = module.database.database_name
  kek_secret_arn              = module.secrets.notification_kek_secret_arn
  secret_kms_key_arns         = [module.database.kms_key_arn, module.secrets.kms_key_arn]
  secret_recovery_window_days = var.secret_recovery_window_days
  alarm_actions               = try(var.notifications_lambda.alarm_actions, [])
}
