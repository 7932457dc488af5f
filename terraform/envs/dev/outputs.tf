# The stack's outputs, re-exported: a root module's outputs are what
# `terraform output` shows, and Terraform cannot inherit them from a child module.
# Descriptions: modules/stack/README.md.

output "region" {
  description = "AWS region of the deployment."
  value       = module.stack.region
}

output "cluster_name" {
  description = "Name of the EKS cluster."
  value       = module.stack.cluster_name
}

output "kubeconfig_command" {
  description = "Command that writes a kubeconfig entry for the cluster."
  value       = module.stack.kubeconfig_command
}

output "registry_host" {
  description = "ECR registry host for `docker login`."
  value       = module.stack.registry_host
}

output "image_registry" {
  description = "Registry prefix images are pushed under (`<image_registry>/<image>:<tag>`); the chart gets it as global.image.registry (host) plus global.image.repositoryPrefix (name)."
  value       = module.stack.image_registry
}

output "repository_urls" {
  description = "Map of image name to ECR repository URL."
  value       = module.stack.repository_urls
}

output "ecr_push_policy_arn" {
  description = "IAM policy to attach to whoever pushes images (CI role)."
  value       = module.stack.ecr_push_policy_arn
}

output "database_address" {
  description = "Private DNS name of the PostgreSQL instance."
  value       = module.stack.database_address
}

output "database_secret_arn" {
  description = "ARN of the RDS-managed master user secret."
  value       = module.stack.database_secret_arn
}

output "database_proxy_endpoint" {
  description = "DNS name of the RDS Proxy (null unless database.proxy_enabled): for the auth-, user- and notification-service; the task-service and the migrations use database_address."
  value       = module.stack.database_proxy_endpoint
}

output "platform_namespace" {
  description = "Namespace of the taskplane release (null until enable_platform is true)."
  value       = module.stack.platform_namespace
}

output "platform_secret_name" {
  description = "Secrets Manager secret with the generated platform secrets (the bootstrap admin password is its `auth-bootstrap-admin-password`)."
  value       = module.stack.platform_secret_name
}

output "notifications_topic_arn" {
  description = "ARN of the SNS topic of the serverless notification path (null while notifications_lambda is null): the notification-service's TASKPLANE_SNS_TOPIC_ARN."
  value       = module.stack.notifications_topic_arn
}

output "notifications_publish_policy_arn" {
  description = "ARN of the IAM policy that allows the relay to publish to the notifications topic (null while notifications_lambda is null)."
  value       = module.stack.notifications_publish_policy_arn
}

output "notifications_dead_letter_queue_url" {
  description = "URL of the SQS queue of events the notifications function did not deliver after every retry (null while notifications_lambda is null)."
  value       = module.stack.notifications_dead_letter_queue_url
}
