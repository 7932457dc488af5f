# The notifications Lambda on its own, in a VPC you already have: the SNS topic the
# relay publishes task events to, the function that delivers them (webhooks and SES
# email), its dead-letter queue and alarms. In a full deployment modules/stack calls
# the module instead, with the stack's VPC and image (its notifications_lambda input).

module "notifications" {
  source = "../../modules/notifications_lambda"

  name               = var.name
  image_uri          = var.image_uri
  vpc_id             = var.vpc_id
  subnet_ids         = var.subnet_ids
  ses_identity       = var.ses_identity
  log_retention_days = 30
}
