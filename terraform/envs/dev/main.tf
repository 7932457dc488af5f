# taskplane on AWS, development: the same stack as prod, smaller and cheaper
# (one NAT gateway, single-AZ database without deletion protection, public API
# endpoint restricted to an allow-list, short retention, disposable storage).
# The wiring lives in modules/stack; this file only chooses the dev settings.

module "stack" {
  source = "../../modules/stack"

  environment = "dev"
  production  = false

  # Deployment inputs (variables.tf, terraform.tfvars)
  region                       = var.region
  name                         = var.name
  tags                         = var.tags
  availability_zones           = var.availability_zones
  vpc_cidr                     = var.vpc_cidr
  endpoint_public_access       = var.endpoint_public_access
  endpoint_public_access_cidrs = var.endpoint_public_access_cidrs
  admin_principal_arns         = var.admin_principal_arns
  enable_platform              = var.enable_platform
  image_tag                    = var.image_tag
  bootstrap_admin_email        = var.bootstrap_admin_email
  chart_path                   = var.chart_path
  chart_repository             = var.chart_repository
  chart_version                = var.chart_version
  notification_settings        = var.notification_settings
  notifications_lambda         = var.notifications_lambda

  # Network and logs
  single_nat_gateway = true
  log_retention_days = 30

  # Cluster
  kubernetes_version = "1.33"
  node_group = {
    instance_types = ["t3.large", "t3a.large"]
    capacity_type  = "ON_DEMAND"
    min_size       = 2
    max_size       = 4
    desired_size   = 2
  }

  # Database: single-AZ, no deletion protection, no final snapshot
  database = {
    instance_class               = "db.t4g.small"
    allocated_storage_gib        = 20
    max_allocated_storage_gib    = 50
    multi_az                     = false
    deletion_protection          = false
    skip_final_snapshot          = true
    backup_retention_days        = 1
    performance_insights_enabled = false
    monitoring_interval_seconds  = 0
  }

  # Disposable: `terraform destroy` removes images and secrets at once
  ecr_force_delete            = true
  secret_recovery_window_days = 0

  observability_enabled = true
}
