variable "namespace" {
  description = "Kubernetes namespace of the taskplane release (created here with Pod Security Admission labels)."
  type        = string
  default     = "taskplane"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.namespace)) && length(var.namespace) <= 63
    error_message = "namespace must be a valid Kubernetes namespace name."
  }
}

variable "release_name" {
  description = "Helm release name of the taskplane umbrella chart."
  type        = string
  default     = "taskplane"
}

variable "chart_path" {
  description = "Local path of the taskplane umbrella chart (used when chart_repository is null). Relative paths resolve from the directory Terraform runs in."
  type        = string
  default     = "../../../charts/taskplane"
}

variable "chart_repository" {
  description = "Chart repository to install from instead of chart_path, e.g. `oci://<registry>/charts`. Null installs from chart_path."
  type        = string
  default     = null
}

variable "chart_version" {
  description = "Chart version to install from chart_repository (ignored for a local chart_path)."
  type        = string
  default     = null
}

variable "environment" {
  description = "The chart's `global.environment`: `production` makes the chart and the services refuse development defaults and missing secrets."
  type        = string
  default     = "production"

  validation {
    condition     = contains(["development", "production"], var.environment)
    error_message = "environment must be development or production."
  }
}

variable "image_registry" {
  description = "Value of the chart's `global.image.registry`: the ECR registry host (registry module output `registry_host`), without a path."
  type        = string

  validation {
    condition     = length(var.image_registry) > 0 && !strcontains(var.image_registry, "://") && !strcontains(var.image_registry, "/")
    error_message = "image_registry must be a registry host without a scheme or path; the path goes in image_repository_prefix."
  }
}

variable "image_repository_prefix" {
  description = "Value of the chart's `global.image.repositoryPrefix`: the ECR repository prefix (registry module output `repository_prefix`). Images are `<image_registry>/<image_repository_prefix>/<image>:<image_tag>`."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$", var.image_repository_prefix))
    error_message = "image_repository_prefix must be an ECR repository path (lowercase, no leading or trailing slash)."
  }
}

variable "image_tag" {
  description = "Image tag every taskplane component runs (`global.image.tag`): the tag you pushed to ECR. ECR tags are immutable, so use a version or a git SHA, never `latest`."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag)) && var.image_tag != "latest"
    error_message = "image_tag must be a valid, immutable image tag (not `latest`)."
  }
}

variable "database_host" {
  description = "Host name of the PostgreSQL instance (database module output `address`)."
  type        = string
}

variable "database_port" {
  description = "PostgreSQL port."
  type        = number
  default     = 5432
}

variable "database_name" {
  description = "Name of the application database."
  type        = string
}

variable "secret_arns" {
  description = "The Secrets Manager secrets External Secrets syncs, by ARN: `database`, the RDS-managed secret holding the master `username` and `password` (database module output `master_user_secret_arn`); `platform`, the generated platform secrets (secrets module output `platform_secret_arn`); `notification_kek`, the notification-service's key-encryption key (secrets module output `notification_kek_secret_arn`), synced into the platform Secret as key notification-kek."
  type = object({
    database         = string
    platform         = string
    notification_kek = string
  })

  validation {
    condition     = alltrue([for arn in values(var.secret_arns) : startswith(arn, "arn:") && strcontains(arn, ":secretsmanager:")])
    error_message = "secret_arns must all be Secrets Manager secret ARNs."
  }
}

variable "database_secret_name" {
  description = "Name of the Kubernetes Secret (key `DATABASE_URL`) that External Secrets creates and the chart reads through `global.database.external.existingSecret`."
  type        = string
  default     = "taskplane-database"
}

variable "platform_secret_name" {
  description = "Name of the Kubernetes Secret with every key of the chart's `global.secrets.values` that External Secrets creates and the chart reads through `global.secrets.existingSecret`."
  type        = string
  default     = "taskplane-platform"
}

variable "kubernetes_issuer_url" {
  description = "Issuer of the cluster's ServiceAccount tokens (cluster module output `cluster_oidc_issuer_url`): the chart's `global.auth.kubernetes.issuer`, which the auth-service requires of the tokens it exchanges."
  type        = string

  validation {
    condition     = startswith(var.kubernetes_issuer_url, "https://")
    error_message = "kubernetes_issuer_url must be an https:// URL (the chart's schema requires it)."
  }
}

variable "bootstrap_admin_email" {
  description = "Email of the bootstrap admin account auth-service creates at start-up (`auth-bootstrap-admin-email`); its password is generated by the secrets module."
  type        = string

  validation {
    condition     = can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.bootstrap_admin_email))
    error_message = "bootstrap_admin_email must be an email address."
  }
}

variable "secret_refresh_interval" {
  description = "How often External Secrets re-reads the Secrets Manager secrets (picks up RDS password rotations)."
  type        = string
  default     = "1h"

  validation {
    condition     = can(regex("^[0-9]+(s|m|h)$", var.secret_refresh_interval))
    error_message = "secret_refresh_interval must be a duration such as 30m or 1h."
  }
}

variable "external_secrets_namespace" {
  description = "Namespace of the External Secrets Operator. Must match the Pod Identity association made by the identity module."
  type        = string
  default     = "external-secrets"
}

variable "external_secrets_service_account" {
  description = "Service account of the External Secrets Operator controller. Must match the Pod Identity association made by the identity module."
  type        = string
  default     = "external-secrets"
}

variable "external_secrets_chart_version" {
  description = "Version of the external-secrets Helm chart (https://charts.external-secrets.io); must serve the external-secrets.io/v1 API."
  type        = string
  default     = "0.19.2"
}

variable "observability_enabled" {
  description = "Enable the chart's observability dependencies: kube-prometheus-stack, jaeger and opentelemetry-operator."
  type        = bool
  default     = true
}

variable "extra_values" {
  description = "Additional YAML values documents for the taskplane release, applied after the ones this module computes."
  type        = list(string)
  default     = []
}

variable "helm_timeout_seconds" {
  description = "How long Helm waits for each release to become ready."
  type        = number
  default     = 900

  validation {
    condition     = var.helm_timeout_seconds >= 60
    error_message = "helm_timeout_seconds must be at least 60."
  }
}

variable "notification_settings" {
  description = "Settings of the notification-service as TASKPLANE_* environment variables (apps/notification-service/README.md), e.g. TASKPLANE_SMTP_HOST, TASKPLANE_SMTP_PORT, TASKPLANE_SMTP_SECURITY, TASKPLANE_SMTP_FROM; passed to the chart as notification-service.env. No secrets here: they would land in the Helm release."
  type        = map(string)
  default     = {}
  validation {
    condition = alltrue([
      for k in keys(var.notification_settings) :
      can(regex("^TASKPLANE_[A-Z0-9_]+$", k)) && !can(regex("(PASSWORD|TOKEN|SECRET)", k))
    ])
    error_message = "notification_settings keys are TASKPLANE_* settings and never a password, token or secret."
  }
}
