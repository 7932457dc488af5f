# RDS PostgreSQL 17 on terraform-aws-modules/rds v7.
#
# - private: isolated database subnets, not publicly accessible, reachable only
#   from the security groups in `allowed_security_groups` (the EKS nodes)
# - storage, Performance Insights and the master-user secret encrypted with a
#   customer managed KMS key created here
# - the master password is generated and rotated by RDS in Secrets Manager
#   (`manage_master_user_password`): it never enters Terraform state
# - IAM database authentication enabled (for humans with `rds-db:connect`)
# - TLS enforced, slow-query / DDL / connection logging, logs exported to CloudWatch

data "aws_region" "current" {}

locals {
  identifier = "${var.name}-postgres"
  port       = 5432
}

################################################################################
# KMS key: RDS storage, Performance Insights and the Secrets Manager secret
################################################################################

module "kms" {
  source = "../kms_key"

  alias       = local.identifier
  description = "${local.identifier}: RDS storage, Performance Insights and master user secret"
  # CloudWatch Logs encrypts the exported PostgreSQL logs with this key.
  log_groups = ["/aws/rds/instance/${local.identifier}/*"]

  tags = var.tags
}

################################################################################
# Security group: PostgreSQL from the cluster nodes only, no egress
################################################################################

resource "aws_security_group" "this" {
  #checkov:skip=CKV2_AWS_5:Attached to the RDS instance created by the terraform-aws-modules/rds module call below (vpc_security_group_ids); checkov does not follow external modules.
  name_prefix = "${local.identifier}-"
  description = "PostgreSQL ${local.identifier}: ingress from the EKS nodes only"
  vpc_id      = var.network.vpc_id

  tags = merge(var.tags, { Name = local.identifier })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "postgres" {
  for_each = var.allowed_security_groups

  security_group_id            = aws_security_group.this.id
  description                  = "PostgreSQL from ${each.key}"
  ip_protocol                  = "tcp"
  from_port                    = local.port
  to_port                      = local.port
  referenced_security_group_id = each.value

  tags = var.tags
}

################################################################################
# RDS instance
################################################################################

module "db" {
  #checkov:skip=CKV_TF_1:Terraform Registry module constrained to one major version (a floor and the next major as ceiling); registry releases are immutable, reviewed version tags, and a commit-hash git source would bypass registry version resolution.
  source  = "terraform-aws-modules/rds/aws"
  version = ">= 7.0, < 8.0"

  identifier = local.identifier

  engine               = "postgres"
  engine_version       = var.engine_version
  family               = "postgres17"
  major_engine_version = "17"
  instance_class       = var.instance_class

  storage_type          = "gp3"
  allocated_storage     = var.allocated_storage_gib
  max_allocated_storage = var.max_allocated_storage_gib
  storage_encrypted     = true
  kms_key_id            = module.kms.arn

  db_name  = var.database_name
  username = var.master_username
  port     = local.port

  # RDS generates the master password, stores it in Secrets Manager (encrypted with
  # our key) and rotates it; Terraform never sees it.
  manage_master_user_password   = true
  master_user_secret_kms_key_id = module.kms.key_id

  iam_database_authentication_enabled = true

  multi_az               = var.multi_az
  publicly_accessible    = false
  db_subnet_group_name   = var.network.database_subnet_group_name
  vpc_security_group_ids = [aws_security_group.this.id]

  backup_retention_period  = var.backup_retention_days
  backup_window            = var.backup_window
  maintenance_window       = var.maintenance_window
  copy_tags_to_snapshot    = true
  delete_automated_backups = false
  deletion_protection      = var.deletion_protection
  skip_final_snapshot      = var.skip_final_snapshot

  auto_minor_version_upgrade  = true
  allow_major_version_upgrade = false

  enabled_cloudwatch_logs_exports        = ["postgresql", "upgrade"]
  create_cloudwatch_log_group            = true
  cloudwatch_log_group_retention_in_days = var.log_retention_days
  cloudwatch_log_group_kms_key_id        = module.kms.arn

  performance_insights_enabled          = var.performance_insights_enabled
  performance_insights_kms_key_id       = var.performance_insights_enabled ? module.kms.arn : null
  performance_insights_retention_period = var.performance_insights_enabled ? 7 : null

  monitoring_interval    = var.monitoring_interval_seconds
  create_monitoring_role = var.monitoring_interval_seconds > 0
  monitoring_role_name   = "${local.identifier}-monitoring"

  # PostgreSQL has no option groups.
  create_db_option_group = false

  create_db_parameter_group       = true
  parameter_group_name            = local.identifier
  parameter_group_use_name_prefix = true
  parameter_group_description     = "${local.identifier}: TLS only, query and connection logging"
  parameters = [
    { name = "rds.force_ssl", value = "1" },
    { name = "log_min_duration_statement", value = tostring(var.log_min_duration_statement_ms) },
    { name = "log_statement", value = "ddl" },
    { name = "log_connections", value = "1" },
    { name = "log_disconnections", value = "1" },
    { name = "log_lock_waits", value = "1" },
    { name = "log_temp_files", value = "0" },
    { name = "shared_preload_libraries", value = "pg_stat_statements", apply_method = "pending-reboot" },
  ]

  tags = var.tags
}
