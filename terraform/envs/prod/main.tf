# taskplane on AWS, production: 3 zones, NAT per zone, Multi-AZ database with
# deletion protection, final snapshot and >= 7 days of backups, private API
# endpoint by default, a year of logs. The wiring lives in modules/stack, which
# also refuses a production plan without these guarantees (production = true).

module "stack" {
  source = "../../modules/stack"

  environment = "prod"
  production  = true

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
  single_nat_gateway = false
  log_retention_days = 365

  # Cluster: at least one node per zone
  kubernetes_version = "1.33"
  node_group = {
    instance_types = ["m6i.large", "m5.large"]
    capacity_type  = "ON_DEMAND"
    min_size       = 3
    max_size       = 9
    desired_size   = 3
  }

  # Database
  database = {
    instance_class               = "db.m7g.large"
    allocated_storage_gib        = 50
    max_allocated_storage_gib    = 500
    multi_az                     = true
    deletion_protection          = true
    skip_final_snapshot          = false
    backup_retention_days        = 14
    performance_insights_enabled = true
    monitoring_interval_seconds  = 60
    # The services' pools times their autoscalers' maxReplicas outgrow one instance's
    # max_connections (docs/operations.md, "Capacity"): the proxy multiplexes them.
    proxy_enabled = true
  }

  ecr_force_delete            = false
  secret_recovery_window_days = 30

  observability_enabled = true
}
