variable "name" {
  description = "Deployment name; the function is `<name>-notifications`, the topic `<name>-task-events`."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name))
    error_message = "name must be 2-31 characters of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "image_uri" {
  description = "ECR image URI of the notification-service's Lambda target, `<repository_url>:<tag>`."
  type        = string
}

variable "network" {
  description = "Where the function runs (the network module's outputs, e.g. `module.network`, or an existing VPC): `vpc_id` of its security group (where PostgreSQL and the user-service are reachable) and the `private_subnet_ids` it runs in (they need a NAT route for webhooks and SES)."
  type = object({
    vpc_id             = string
    private_subnet_ids = list(string)
  })

  validation {
    condition     = length(var.network.private_subnet_ids) > 0
    error_message = "network.private_subnet_ids must name at least one subnet."
  }
}

variable "extra_security_group_ids" {
  description = "Further security groups of the function, e.g. one the database accepts connections from."
  type        = list(string)
  default     = []
}

variable "ses_identity" {
  description = "SES identity the function sends email from: a domain (verify its DKIM records) or one address."
  type        = string
}

variable "environment_variables" {
  description = "Plain TASKPLANE_* settings of the function (apps/notification-service/README.md): user-service and auth URLs, SMTP host, limits. Secrets do not go here: the database credentials come from database_secret_arn and the rest from the settings secret (settings_secret_arn)."
  type        = map(string)
  default     = {}
  sensitive   = true
}

variable "timeout_s" {
  description = "Function timeout in seconds: one SNS message, every delivery it causes."
  type        = number
  default     = 60

  validation {
    condition     = var.timeout_s >= 5 && var.timeout_s <= 900
    error_message = "timeout_s must be between 5 and 900."
  }
}

variable "memory_mib" {
  description = "Function memory in MiB (CPU scales with it)."
  type        = number
  default     = 512
}

variable "reserved_concurrency" {
  description = "Concurrent executions reserved for (and limiting) the function, so a burst cannot exhaust PostgreSQL connections."
  type        = number
  default     = 10

  validation {
    condition     = var.reserved_concurrency >= 1
    error_message = "reserved_concurrency must be at least 1."
  }
}

variable "failed_events" {
  description = "What happens to an event whose invocation raises (SNS invokes asynchronously): Lambda retries it `maximum_retry_attempts` times (0-2) while it is younger than `maximum_event_age_s` (60-21600), then sends it to the dead-letter queue, which keeps it `dead_letter_retention_s` seconds (60-1209600, SQS's 14 days at most)."
  type = object({
    maximum_retry_attempts  = optional(number, 2)
    maximum_event_age_s     = optional(number, 21600)
    dead_letter_retention_s = optional(number, 1209600)
  })
  default = {}

  validation {
    condition = (
      var.failed_events.maximum_retry_attempts >= 0 && var.failed_events.maximum_retry_attempts <= 2 &&
      var.failed_events.maximum_event_age_s >= 60 && var.failed_events.maximum_event_age_s <= 21600 &&
      var.failed_events.dead_letter_retention_s >= 60 && var.failed_events.dead_letter_retention_s <= 1209600
    )
    error_message = "failed_events must keep Lambda's and SQS's ranges: maximum_retry_attempts 0-2, maximum_event_age_s 60-21600, dead_letter_retention_s 60-1209600."
  }
}

variable "log_retention_days" {
  description = "Retention, in days, of the function's CloudWatch log group."
  type        = number
}

variable "error_alarm_threshold" {
  description = "Function errors within 5 minutes that raise the errors alarm."
  type        = number
  default     = 1
}

variable "alarm_actions" {
  description = "ARNs notified when an alarm changes state (e.g. an on-call SNS topic). Empty: the alarms only show in CloudWatch."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Extra tags for the resources (the provider's default_tags add Project, Environment and ManagedBy)."
  type        = map(string)
  default     = {}
}

variable "database_secret_arn" {
  description = "ARN of the RDS-managed master user secret (JSON with username and password) the function builds its DATABASE_URL from."
  type        = string
}

variable "kek_secret_arn" {
  description = "ARN of the secret holding the notification-service's key-encryption key (secrets module output `notification_kek_secret_arn`): the function opens the webhook secrets the in-cluster service sealed."
  type        = string
}

variable "secret_kms_key_arns" {
  description = "ARNs of the KMS keys encrypting database_secret_arn and kek_secret_arn (the function may decrypt with them only through Secrets Manager)."
  type        = list(string)
}

variable "database_host" {
  description = "Host name of the PostgreSQL server."
  type        = string
}

variable "database_port" {
  description = "Port of the PostgreSQL server."
  type        = number
  default     = 5432
}

variable "database_name" {
  description = "Database name."
  type        = string
}

variable "secret_recovery_window_days" {
  description = "Days the deleted settings secret stays recoverable: 0 deletes at once, otherwise 7-30 (Secrets Manager's range; the stack validates the deployment's secret_recovery_window_days)."
  type        = number
  default     = 30
}
