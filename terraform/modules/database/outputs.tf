output "instance_identifier" {
  description = "RDS instance identifier."
  value       = local.identifier
}

output "address" {
  description = "DNS name of the database instance (private)."
  value       = module.db.db_instance_address
}

output "port" {
  description = "PostgreSQL port."
  value       = local.port
}

output "database_name" {
  description = "Name of the application database."
  value       = var.database_name
}

output "master_username" {
  description = "Master user name (the password lives only in the Secrets Manager secret)."
  value       = var.master_username
  sensitive   = true
}

output "master_user_secret_arn" {
  description = "ARN of the Secrets Manager secret RDS manages for the master user (JSON with `username` and `password`)."
  value       = module.db.db_instance_master_user_secret_arn
}

output "kms_key_arn" {
  description = "ARN of the KMS key encrypting the storage, Performance Insights and the master user secret; readers of the secret need kms:Decrypt on it."
  value       = module.kms.arn
}

output "resource_id" {
  description = "RDS resource ID (the `dbi-resource-id` in `rds-db:connect` ARNs for IAM authentication)."
  value       = module.db.db_instance_resource_id
}

output "security_group_id" {
  description = "ID of the database security group."
  value       = aws_security_group.this.id
}

output "proxy_endpoint" {
  description = "DNS name of the RDS Proxy (null when `proxy_enabled` is false): for the auth-, user- and notification-service. The task-service and the migrations connect to `address` (prepared statements, LISTEN and advisory locks pin proxy sessions)."
  value       = var.proxy_enabled ? aws_db_proxy.this[0].endpoint : null
}
