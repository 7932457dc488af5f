# The notifications Lambda on its own, beside a platform you already run (its VPC,
# database and secrets): the SNS topic the relay publishes task events to, the function
# that delivers them (webhooks and SES email), its dead-letter queue and alarms. In a full deployment modules/stack calls
# the module instead, with the stack's VPC and image (its notifications_lambda input).

module "notifications" {
  source = "../../modules/notifications_lambda"

  name               = var.name
  image_uri          = var.image_uri
  network            = { vpc_id = var.vpc_id, private_subnet_ids = var.subnet_ids }
  ses_identity       = var.ses_identity
  log_retention_days = 30

  # Secrets Manager, never the environment: the database login and the key-encryption
  # key the in-cluster notification-service seals webhook secrets with.
  database_secret_arn = var.database_secret_arn
  database_host       = var.database_host
  database_name       = var.database_name
  kek_secret_arn      = var.kek_secret_arn
  secret_kms_key_arns = var.secret_kms_key_arns
}
