output "cluster_name" {
  description = "Name of the EKS cluster."
  value       = module.eks.cluster_name
}

output "cluster_arn" {
  description = "ARN of the EKS cluster."
  value       = module.eks.cluster_arn
}

output "cluster_endpoint" {
  description = "HTTPS endpoint of the Kubernetes API server."
  value       = module.eks.cluster_endpoint
}

output "cluster_certificate_authority_data" {
  description = "Base64-encoded certificate authority data of the cluster (for provider and kubeconfig configuration)."
  value       = module.eks.cluster_certificate_authority_data
}

output "cluster_version" {
  description = "Kubernetes version of the control plane."
  value       = module.eks.cluster_version
}

output "cluster_security_group_id" {
  description = "ID of the additional security group the module attached to the control plane."
  value       = module.eks.cluster_security_group_id
}

output "cluster_primary_security_group_id" {
  description = "ID of the EKS-managed primary security group of the cluster."
  value       = module.eks.cluster_primary_security_group_id
}

output "node_security_group_id" {
  description = "ID of the security group shared by the managed nodes (and so by every pod using the node network): the source allowed into the database."
  value       = module.eks.node_security_group_id
}

output "cluster_oidc_issuer_url" {
  description = "Issuer URL of the cluster's ServiceAccount tokens (https://oidc.eks.<region>.amazonaws.com/id/<id>): the taskplane chart's global.auth.kubernetes.issuer."
  value       = module.eks.cluster_oidc_issuer_url
}

output "oidc_provider_arn" {
  description = "ARN of the cluster's IAM OIDC provider (for IRSA, should something need it; this stack uses Pod Identity)."
  value       = module.eks.oidc_provider_arn
}

output "kms_key_arn" {
  description = "ARN of the KMS key that encrypts Kubernetes secrets."
  value       = module.eks.kms_key_arn
}
