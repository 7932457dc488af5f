# The smallest taskplane stack that applies: two zones, one NAT gateway, a small
# single-AZ database, everything disposable, no Helm releases (enable_platform stays
# false: push the images first, see terraform/README.md) and no notifications Lambda.
# For the settings of a real deployment see envs/dev and envs/prod.

module "stack" {
  source = "../../modules/stack"

  environment        = "example"
  production         = false
  region             = var.region
  name               = var.name
  tags               = { Owner = var.owner }
  availability_zones = [for zone in ["a", "b"] : "${var.region}${zone}"]
  vpc_cidr           = "10.42.0.0/16"

  single_nat_gateway     = true
  log_retention_days     = 7
  endpoint_public_access = false

  node_group = {
    instance_types = ["t3.large"]
    min_size       = 1
    max_size       = 2
    desired_size   = 1
  }

  database = {
    instance_class               = "db.t4g.micro"
    allocated_storage_gib        = 20
    max_allocated_storage_gib    = 20
    multi_az                     = false
    deletion_protection          = false
    skip_final_snapshot          = true
    backup_retention_days        = 1
    performance_insights_enabled = false
    monitoring_interval_seconds  = 0
  }

  ecr_force_delete            = true
  secret_recovery_window_days = 0
  observability_enabled       = false
}
