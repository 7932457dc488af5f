output "registry_host" {
  description = "Host name of the account's ECR registry (`<account>.dkr.ecr.<region>.amazonaws.com`), for `docker login`."
  value       = local.registry_host
}

output "image_registry" {
  description = "Where images are pushed: the registry host plus the repository prefix, `<image_registry>/<image>:<tag>`. The chart takes the two parts separately (`registry_host` as `global.image.registry`, `repository_prefix` as `global.image.repositoryPrefix`)."
  value       = "${local.registry_host}/${var.repository_prefix}"
}

output "repository_urls" {
  description = "Map of image name to repository URL."
  value       = { for k, r in aws_ecr_repository.this : k => r.repository_url }
}

output "repository_arns" {
  description = "Map of image name to repository ARN."
  value       = { for k, r in aws_ecr_repository.this : k => r.arn }
}

output "push_policy_arn" {
  description = "ARN of the IAM policy allowing pushes to these repositories (null when create_push_policy is false)."
  value       = try(aws_iam_policy.push[0].arn, null)
}

output "repository_prefix" {
  description = "Repository prefix of every image (`<registry_host>/<repository_prefix>/<image>`); the chart's `global.image.repositoryPrefix`."
  value       = var.repository_prefix
}
