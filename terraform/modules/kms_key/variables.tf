variable "alias" {
  description = "Alias of the key, without the `alias/` prefix."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9/_-]{1,250}$", var.alias)) && !startswith(var.alias, "aws/")
    error_message = "alias must be letters, digits, slashes, underscores or hyphens, and must not start with aws/."
  }
}

variable "description" {
  description = "What the key encrypts (shown in the KMS console)."
  type        = string
}

variable "service_principals" {
  description = "AWS service principals (e.g. `sns.amazonaws.com`) that may use the key for this account's resources (kms:Decrypt and kms:GenerateDataKey*, limited by aws:SourceAccount)."
  type        = list(string)
  default     = []
}

variable "log_groups" {
  description = "Names of the CloudWatch Logs log groups in this account and region (patterns allowed, as in ArnLike) whose logs the key encrypts."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Extra tags for the key (the provider's default_tags add Project, Environment and ManagedBy)."
  type        = map(string)
  default     = {}
}
