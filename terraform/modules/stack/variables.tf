# ---------------------------------------------------------------- deployment

variable "environment" {
  description = "Environment label, e.g. `dev` or `prod`: the Environment tag of every resource."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.environment))
    error_message = "environment must be 2-16 characters of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "production" {
  description = "Production deployment: the chart runs with global.environment = production, and the plan fails unless every production guarantee holds (local.production_guarantees: Multi-AZ, deletion protection, final snapshot, >= 7 days of backups, 3 zones, NAT per zone, >= 3 nodes, no ECR force-delete, recoverable secrets)."
  type        = bool

  validation {
    condition     = !var.production || alltrue(values(local.production_guarantees))
    error_message = "A production deployment needs ${join(", ", [for guarantee, held in local.production_guarantees : guarantee if !held])}."
  }
}

variable "region" {
  description = "AWS region of the deployment; must be the region the root module's AWS provider uses (the only place a region comes from)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region code: <area>-<location>-<number>."
  }
}

variable "name" {
  description = "Deployment name; every resource name (VPC, cluster, database, repositories, secrets, roles) derives from it. The child modules validate its form."
  type        = string
}

variable "tags" {
  description = "Tags for every resource, merged under the required Project, Environment and ManagedBy tags (which cannot be overridden). Must name an Owner."
  type        = map(string)

  validation {
    condition     = try(length(trimspace(var.tags["Owner"])) > 0, false)
    error_message = "tags must include a non-empty Owner tag."
  }
}

# ---------------------------------------------------------------- network

variable "availability_zones" {
  description = "Availability zones of var.region to use: 2 or 3, exactly 3 in production."
  type        = list(string)

  validation {
    condition     = alltrue([for z in var.availability_zones : startswith(z, var.region)])
    error_message = "availability_zones must be zones of var.region."
  }
}

variable "vpc_cidr" {
  description = "IPv4 CIDR block of the VPC."
  type        = string
}

variable "single_nat_gateway" {
  description = "One shared NAT gateway (cheap) instead of one per availability zone. Must be false in production."
  type        = bool
}

variable "log_retention_days" {
  description = "Retention, in days, of the VPC flow logs, the EKS control-plane logs, the PostgreSQL logs and the notifications function's logs: one of the periods CloudWatch Logs accepts (validated here, once for every log group of the deployment)."
  type        = number

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of the retention periods CloudWatch Logs accepts."
  }
}

# ---------------------------------------------------------------- cluster

variable "kubernetes_version" {
  description = "EKS Kubernetes version. Set it per environment to upgrade dev before prod."
  type        = string
  default     = "1.33"
}

variable "endpoint_public_access" {
  description = "Expose the EKS API on the internet, restricted to endpoint_public_access_cidrs (the cluster module rejects an empty list, 0.0.0.0/0 and ::/0)."
  type        = bool
}

variable "endpoint_public_access_cidrs" {
  description = "Allow-list of the public EKS API endpoint when endpoint_public_access is true. Never 0.0.0.0/0."
  type        = list(string)
  default     = []
}

variable "admin_principal_arns" {
  description = "IAM role/user ARNs granted cluster-admin via EKS access entries (the identity running Terraform always is)."
  type        = list(string)
  default     = []
}

variable "node_group" {
  description = "The cluster's managed node group (the cluster module's node_group; root volumes keep its default size): `instance_types`, `capacity_type` (ON_DEMAND, the default, or SPOT), `min_size` (at least 3, one per zone, in production), `max_size` and `desired_size` (the initial count)."
  type = object({
    instance_types = list(string)
    capacity_type  = optional(string, "ON_DEMAND")
    min_size       = number
    max_size       = number
    desired_size   = number
  })
}

# ---------------------------------------------------------------- database

variable "database" {
  description = "The PostgreSQL instance (the database module's inputs of the same names, which validate them): `instance_class`, `allocated_storage_gib` (initial storage) and `max_allocated_storage_gib` (the autoscaling ceiling), `multi_az` (a synchronous standby in another zone; true in production), `deletion_protection` (true in production), `skip_final_snapshot` (false in production), `backup_retention_days` (point-in-time recovery, 1-35; at least 7 in production), `performance_insights_enabled`, `monitoring_interval_seconds` (Enhanced Monitoring, 0 turns it off) and `proxy_enabled` (false by default: an RDS Proxy, output `database_proxy_endpoint`, for the auth-, user- and notification-service; the task-service and the migrations keep the instance endpoint)."
  type = object({
    instance_class               = string
    allocated_storage_gib        = number
    max_allocated_storage_gib    = number
    multi_az                     = bool
    deletion_protection          = bool
    skip_final_snapshot          = bool
    backup_retention_days        = number
    performance_insights_enabled = bool
    monitoring_interval_seconds  = number
    proxy_enabled                = optional(bool, false)
  })
}

# ---------------------------------------------------------------- registry and secrets
# The images that get an ECR repository are the registry module's default list.


variable "ecr_force_delete" {
  description = "Let `terraform destroy` delete ECR repositories that still hold images. Must be false in production."
  type        = bool
}

variable "secret_recovery_window_days" {
  description = "Recovery window of the Secrets Manager secrets when deleted: 0 (immediate) or 7-30 (validated here, once for the secrets and notifications_lambda modules); not 0 in production."
  type        = number

  validation {
    condition     = var.secret_recovery_window_days == 0 || (var.secret_recovery_window_days >= 7 && var.secret_recovery_window_days <= 30)
    error_message = "secret_recovery_window_days must be 0 or between 7 and 30."
  }
}

# ---------------------------------------------------------------- platform (Helm releases)

variable "enable_platform" {
  description = "Install the Helm releases (External Secrets, taskplane). Leave false for the first apply, push the images, then set true, with image_tag and bootstrap_admin_email."
  type        = bool
  default     = false

  validation {
    condition     = !var.enable_platform || (var.image_tag != null && var.bootstrap_admin_email != null)
    error_message = "Set image_tag (the tag you pushed to ECR) and bootstrap_admin_email when enable_platform is true."
  }
}

variable "image_tag" {
  description = "Image tag to deploy (must exist in every ECR repository). Required when enable_platform is true."
  type        = string
  default     = null
}

variable "bootstrap_admin_email" {
  description = "Email of the taskplane bootstrap admin (its password is generated into Secrets Manager). Required when enable_platform is true."
  type        = string
  default     = null
}

variable "chart_path" {
  description = "Path of the taskplane chart. Null means charts/taskplane of this repository."
  type        = string
  default     = null
}

variable "chart_repository" {
  description = "Install the chart from this repository (e.g. oci://...) instead of chart_path."
  type        = string
  default     = null
}

variable "chart_version" {
  description = "Chart version when installing from chart_repository."
  type        = string
  default     = null
}

variable "external_secrets_namespace" {
  description = "Namespace of the External Secrets Operator (its Pod Identity association uses it)."
  type        = string
  default     = "external-secrets"
}

variable "observability_enabled" {
  description = "Install kube-prometheus-stack, jaeger and opentelemetry-operator with the chart."
  type        = bool
}

variable "notifications_lambda" {
  description = "The serverless notification path (modules/notifications_lambda): null (the default) creates nothing. Set it to switch it on: `ses_identity` is the SES domain or address the function sends from, `image_tag` the tag of the notification-service image in ECR (the image the chart runs; the function replaces its entry point with the Lambda runtime interface client), `alarm_actions` who the alarms notify."
  type = object({
    ses_identity  = string
    image_tag     = string
    alarm_actions = optional(list(string), [])
  })
  default = null
}

variable "notification_settings" {
  description = "Settings of the notification-service as TASKPLANE_* environment variables (apps/notification-service/README.md), e.g. TASKPLANE_SMTP_HOST, TASKPLANE_SMTP_PORT, TASKPLANE_SMTP_SECURITY, TASKPLANE_SMTP_FROM; passed to the chart as notification-service.env. No secrets here: they would land in the Helm release."
  type        = map(string)
  default     = {}
}
