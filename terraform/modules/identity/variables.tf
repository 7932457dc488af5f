variable "name" {
  description = "Name prefix of the IAM roles (`<name>-<key>`)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{1,40}$", var.name))
    error_message = "name must be 2-41 letters, digits or hyphens, starting with a letter."
  }
}

variable "cluster_name" {
  description = "Name of the EKS cluster the Pod Identity associations belong to."
  type        = string
}

variable "secret_readers" {
  description = <<-EOT
    Pod Identity associations that may read specific Secrets Manager secrets, keyed by a short name.
    Each gets its own IAM role, trusted only by the EKS Pod Identity service for this account, with
    secretsmanager:GetSecretValue/DescribeSecret on exactly `secret_arns` and kms:Decrypt on exactly
    `kms_key_arns` (only through Secrets Manager). Wildcards are rejected.
  EOT
  type = map(object({
    namespace       = string
    service_account = string
    secret_arns     = list(string)
    kms_key_arns    = optional(list(string), [])
  }))

  validation {
    condition     = alltrue([for k, v in var.secret_readers : length(v.secret_arns) > 0])
    error_message = "Every secret reader needs at least one secret ARN."
  }

  validation {
    condition = alltrue(flatten([
      for k, v in var.secret_readers : [
        for arn in concat(v.secret_arns, v.kms_key_arns) : !strcontains(arn, "*")
      ]
    ]))
    error_message = "Secret and KMS key ARNs must be exact ARNs: no wildcards."
  }

  validation {
    condition     = alltrue([for k, v in var.secret_readers : can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", v.namespace)) && can(regex("^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$", v.service_account))])
    error_message = "namespace and service_account must be valid Kubernetes names."
  }
}

variable "tags" {
  description = "Extra tags for the IAM roles and associations (the provider's default_tags add Project, Environment and ManagedBy)."
  type        = map(string)
  default     = {}
}
