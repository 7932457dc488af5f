output "json" {
  description = "The trust policy, for `aws_iam_role.assume_role_policy`."
  value       = data.aws_iam_policy_document.this.json
}
