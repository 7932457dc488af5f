variable "region" {
  description = "AWS region to deploy into (the only place a region comes from)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region code: <area>-<location>-<number>."
  }
}

variable "name" {
  description = "Deployment name; every resource name (VPC, cluster, database, repositories, roles) derives from it."
  type        = string
  default     = "taskplane-prod"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3-32 characters of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "tags" {
  description = "Tags for every resource, merged under the required Project, Environment and ManagedBy tags (which cannot be overridden). Must name an Owner."
  type        = map(string)

  validation {
    condition     = try(length(trimspace(var.tags["Owner"])) > 0, false)
    error_message = "tags must include a non-empty Owner tag."
  }
}

variable "availability_zones" {
  description = "Availability zones of the region to use (3), e.g. [\"<region>a\", \"<region>b\", \"<region>c\"]."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) == 3 && alltrue([for z in var.availability_zones : startswith(z, var.region)])
    error_message = "availability_zones must list 3 zones of var.region."
  }
}

variable "vpc_cidr" {
  description = "IPv4 CIDR block of the VPC."
  type        = string
  default     = "10.20.0.0/16"
}

variable "kubernetes_version" {
  description = "EKS Kubernetes version."
  type        = string
  default     = "1.33"
}

variable "endpoint_public_access" {
  description = "Expose the EKS API on the internet (CIDR-restricted). Off in prod: run Terraform and kubectl from inside the VPC."
  type        = bool
  default     = false
}

variable "endpoint_public_access_cidrs" {
  description = "Allow-list of the public EKS API endpoint when endpoint_public_access is true. Never 0.0.0.0/0."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.endpoint_public_access_cidrs : can(cidrhost(c, 0)) && !endswith(c, "/0")])
    error_message = "endpoint_public_access_cidrs must be valid CIDR blocks and must not contain 0.0.0.0/0 or ::/0."
  }
}

variable "admin_principal_arns" {
  description = "IAM role/user ARNs granted cluster-admin via EKS access entries (the identity running Terraform always is)."
  type        = list(string)
  default     = []
}

variable "node_instance_types" {
  description = "Instance types of the managed node group."
  type        = list(string)
  default     = ["m6i.large", "m5.large"]
}

variable "node_min_size" {
  description = "Minimum node count (one per zone at least)."
  type        = number
  default     = 3

  validation {
    condition     = var.node_min_size >= 3
    error_message = "prod keeps at least three nodes, one per availability zone."
  }
}

variable "node_max_size" {
  description = "Maximum node count."
  type        = number
  default     = 9
}

variable "node_desired_size" {
  description = "Initial node count."
  type        = number
  default     = 3
}

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.m7g.large"
}

variable "db_allocated_storage_gib" {
  description = "Initial database storage in GiB."
  type        = number
  default     = 50
}

variable "db_max_allocated_storage_gib" {
  description = "Storage autoscaling ceiling in GiB."
  type        = number
  default     = 500
}

variable "db_backup_retention_days" {
  description = "Days of automated database backups (point-in-time recovery)."
  type        = number
  default     = 14

  validation {
    condition     = var.db_backup_retention_days >= 7 && var.db_backup_retention_days <= 35
    error_message = "prod keeps between 7 and 35 days of backups."
  }
}

variable "images" {
  description = "Images that get an ECR repository."
  type        = list(string)
  default     = ["auth-service", "user-service", "task-service", "notification-service", "worker", "operator"]
}

variable "enable_platform" {
  description = "Install the Helm releases (External Secrets, taskplane). Leave false for the first apply, push the images, then set true."
  type        = bool
  default     = false
}

variable "image_tag" {
  description = "Image tag to deploy (must exist in every ECR repository). Required when enable_platform is true."
  type        = string
  default     = null

  validation {
    condition     = !var.enable_platform || var.image_tag != null
    error_message = "Set image_tag (the tag you pushed to ECR) when enable_platform is true."
  }
}

variable "bootstrap_admin_email" {
  description = "Email of the taskplane bootstrap admin (its password is generated into Secrets Manager). Required when enable_platform is true."
  type        = string
  default     = null

  validation {
    condition     = !var.enable_platform || var.bootstrap_admin_email != null
    error_message = "Set bootstrap_admin_email when enable_platform is true."
  }
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
  default     = true
}
