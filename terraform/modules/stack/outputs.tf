output "region" {
  description = "AWS region of the deployment."
  value       = var.region
}

output "cluster_name" {
  description = "Name of the EKS cluster."
  value       = module.cluster.cluster_name
}

output "kubeconfig_command" {
  description = "Command that writes a kubeconfig entry for the cluster."
  value       = "aws eks update-kubeconfig --region ${var.region} --name ${module.cluster.cluster_name}"
}

output "registry_host" {
  description = "ECR registry host for `docker login`."
  value       = module.registry.registry_host
}

output "image_registry" {
  description = "Registry prefix images are pushed under (`<image_registry>/<image>:<tag>`); the chart gets it as global.image.registry (host) plus global.image.repositoryPrefix (name)."
  value       = module.registry.image_registry
}

output "repository_urls" {
  description = "Map of image name to ECR repository URL."
  value       = module.registry.repository_urls
}

output "ecr_push_policy_arn" {
  description = "IAM policy to attach to whoever pushes images (CI role)."
  value       = module.registry.push_policy_arn
}

output "database_address" {
  description = "Private DNS name of the PostgreSQL instance."
  value       = module.database.address
}

output "database_secret_arn" {
  description = "ARN of the RDS-managed master user secret."
  value       = module.database.master_user_secret_arn
}

output "database_proxy_endpoint" {
  description = "DNS name of the RDS Proxy (null unless database.proxy_enabled): for the auth-, user- and notification-service; the task-service and the migrations use database_address."
  value       = module.database.proxy_endpoint
}

output "platform_namespace" {
  description = "Namespace of the taskplane release (null until enable_platform is true)."
  value       = try(module.platform[0].namespace, null)
}

output "platform_secret_name" {
  description = "Secrets Manager secret with the generated platform secrets (the bootstrap admin password is its `auth-bootstrap-admin-password`)."
  value       = module.secrets.platform_secret_name
}

# For the root module's provider configuration (providers cannot live in this module).

output "default_tags" {
  description = "Tags for the root module's AWS provider `default_tags`: var.tags with the required Project, Environment and ManagedBy on top. Derived from input variables only, never from a resource or data source, because the AWS provider configuration reads it."
  value       = local.tags
}

output "kubernetes" {
  description = "Connection to the EKS API for the root module's kubernetes and helm providers: host, CA certificate and an `aws eks get-token` exec (AWS CLI v2 where Terraform runs); the shape of the helm provider's `kubernetes` attribute."
  value = {
    host                   = module.cluster.cluster_endpoint
    cluster_ca_certificate = base64decode(module.cluster.cluster_certificate_authority_data)
    exec = {
      api_version = "client.authentication.k8s.io/v1beta1"
      command     = "aws"
      args        = ["eks", "get-token", "--cluster-name", module.cluster.cluster_name, "--region", var.region]
    }
  }
}

output "notifications_topic_arn" {
  description = "ARN of the SNS topic of the serverless notification path (null while notifications_lambda is null): the notification-service's TASKPLANE_SNS_TOPIC_ARN."
  value       = try(module.notifications_lambda[0].topic_arn, null)
}

output "notifications_publish_policy_arn" {
  description = "ARN of the IAM policy that allows the relay to publish to the notifications topic (null while notifications_lambda is null)."
  value       = try(module.notifications_lambda[0].publish_policy_arn, null)
}

output "notifications_dead_letter_queue_url" {
  description = "URL of the SQS queue of events the notifications function did not deliver after every retry (null while notifications_lambda is null)."
  value       = try(module.notifications_lambda[0].dead_letter_queue_url, null)
}
