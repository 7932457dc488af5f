variable "name" {
  description = "Name prefix of the secrets (`<name>/platform`, `<name>/notification-kek`) and of the KMS key alias `<name>-platform-secrets`, which the kms_key module validates."
  type        = string
}

variable "recovery_window_days" {
  description = "Days a deleted secret stays recoverable: 0 deletes at once, otherwise 7-30 (Secrets Manager's range; the stack validates the deployment's secret_recovery_window_days)."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Extra tags for the secrets and the KMS key (the provider's default_tags add Project, Environment and ManagedBy)."
  type        = map(string)
  default     = {}
}
