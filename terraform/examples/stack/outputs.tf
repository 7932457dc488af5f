output "cluster_name" {
  description = "Name of the example's EKS cluster."
  value       = module.stack.cluster_name
}

output "kubeconfig_command" {
  description = "Command that writes a kubeconfig entry for the example's cluster."
  value       = module.stack.kubeconfig_command
}

output "repository_urls" {
  description = "ECR repository URL of every image, keyed by image name."
  value       = module.stack.repository_urls
}

output "database_address" {
  description = "Host name of the example's PostgreSQL instance (private)."
  value       = module.stack.database_address
}
