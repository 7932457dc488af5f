output "platform_secret_arn" {
  description = "ARN of the `<name>/platform` secret (JSON: cursor-secret, auth-key-encryption-key, auth-bootstrap-admin-password)."
  value       = aws_secretsmanager_secret.platform.arn
}

output "platform_secret_name" {
  description = "Name of the `<name>/platform` secret, e.g. for `aws secretsmanager get-secret-value` of the bootstrap admin password."
  value       = aws_secretsmanager_secret.platform.name
}

output "kms_key_arn" {
  description = "ARN of the KMS key encrypting the platform secret (External Secrets needs kms:Decrypt on it)."
  value       = module.kms.arn
}

output "notification_kek_secret_arn" {
  description = "ARN of `<name>/notification-kek`, the notification-service's key-encryption key (synced into the platform Secret as notification-kek; read by the notifications Lambda)."
  value       = aws_secretsmanager_secret.notification_kek.arn
}
