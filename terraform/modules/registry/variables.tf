variable "repository_prefix" {
  description = "Prefix (namespace) of the repository names: repositories are `<repository_prefix>/<image>`. Derive it from the deployment name."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]+(?:[._-][a-z0-9]+)*$", var.repository_prefix))
    error_message = "repository_prefix must be lowercase letters and digits, optionally separated by '.', '_' or '-'."
  }
}

variable "images" {
  description = "Images that get a repository, one per deployable."
  type        = list(string)
  default     = ["auth-service", "user-service", "task-service", "notification-service", "console", "worker", "operator"]

  validation {
    condition     = length(var.images) > 0 && alltrue([for i in var.images : can(regex("^[a-z0-9]+(?:[._-][a-z0-9]+)*$", i))])
    error_message = "images must be a non-empty list of lowercase repository names."
  }
}

variable "kms_key_arn" {
  description = "KMS key ARN for repository encryption. Null uses the AWS managed `aws/ecr` key (still KMS encryption)."
  type        = string
  default     = null
}

variable "keep_tagged_images" {
  description = "Number of most recent tagged images each repository keeps; older ones expire."
  type        = number
  default     = 30

  validation {
    condition     = var.keep_tagged_images >= 1
    error_message = "keep_tagged_images must be at least 1."
  }
}

variable "untagged_image_expiry_days" {
  description = "Days after which untagged images (superseded layers, failed pushes) expire."
  type        = number
  default     = 7

  validation {
    condition     = var.untagged_image_expiry_days >= 1
    error_message = "untagged_image_expiry_days must be at least 1."
  }
}

variable "force_delete" {
  description = "Allow `terraform destroy` to delete repositories that still contain images (dev only)."
  type        = bool
  default     = false
}

variable "create_push_policy" {
  description = "Create an IAM policy that allows pushing to (and only to) these repositories, to attach to a CI role or an operator."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Extra tags for the repositories (the provider's default_tags add Project, Environment and ManagedBy)."
  type        = map(string)
  default     = {}
}
