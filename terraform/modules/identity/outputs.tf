output "role_arns" {
  description = "Map of secret-reader key to the ARN of its IAM role."
  value       = { for k, r in aws_iam_role.this : k => r.arn }
}

output "associations" {
  description = "Map of secret-reader key to its Pod Identity association (namespace, service account, association ID)."
  value = {
    for k, a in aws_eks_pod_identity_association.this : k => {
      namespace       = a.namespace
      service_account = a.service_account
      association_id  = a.association_id
    }
  }
}
