output "namespace" {
  description = "Namespace of the taskplane release."
  value       = kubernetes_namespace_v1.taskplane.metadata[0].name
}

output "release_name" {
  description = "Helm release name of the taskplane chart."
  value       = helm_release.taskplane.name
}

output "release_version" {
  description = "Version of the installed taskplane chart."
  value       = helm_release.taskplane.metadata.version
}

output "database_secret_name" {
  description = "Kubernetes Secret (key DATABASE_URL) the services read."
  value       = var.database_secret_name
}

output "platform_secret_name" {
  description = "Kubernetes Secret with the chart's platform secrets (`global.secrets.existingSecret`), synced by External Secrets."
  value       = var.platform_secret_name
}

output "values" {
  description = "The values YAML this module rendered for the taskplane chart (before extra_values), for review."
  value       = local.taskplane_values
}
