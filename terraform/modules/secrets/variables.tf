variable "name" {
  description = "Name prefix of the secret (`<name>/platform`) and of the KMS key alias."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,40}[a-z0-9]$", var.name))
    error_message = "name must be 3-42 characters of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "recovery_window_days" {
  description = "Days a deleted secret stays recoverable (0 deletes at once; 7-30 otherwise)."
  type        = number
  default     = 30

  validation {
    condition     = var.recovery_window_days == 0 || (var.recovery_window_days >= 7 && var.recovery_window_days <= 30)
    error_message = "recovery_window_days must be 0 or between 7 and 30."
  }
}

variable "tags" {
  description = "Extra tags for the secrets and the KMS key (the provider's default_tags add Project, Environment and ManagedBy)."
  type        = map(string)
  default     = {}
}
