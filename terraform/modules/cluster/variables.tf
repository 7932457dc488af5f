variable "name" {
  description = "Name of the EKS cluster; also the prefix of the IAM roles, KMS alias and node groups it creates."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3-32 characters of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "kubernetes_version" {
  description = "Kubernetes `<major>.<minor>` version of the control plane and the managed node groups."
  type        = string
  default     = "1.33"

  validation {
    condition     = can(regex("^1\\.[0-9]{2}$", var.kubernetes_version))
    error_message = "kubernetes_version must look like 1.33."
  }
}

variable "network" {
  description = "Where the cluster runs (the network module's outputs, e.g. `module.network`): `vpc_id`, and `private_subnet_ids` for the control plane ENIs and the nodes."
  type = object({
    vpc_id             = string
    private_subnet_ids = list(string)
  })

  validation {
    condition     = length(var.network.private_subnet_ids) >= 2
    error_message = "EKS needs private subnets in at least two availability zones."
  }
}

variable "endpoint_public_access" {
  description = "Expose the Kubernetes API server endpoint on the internet (restricted to `endpoint_public_access_cidrs`). The private endpoint is always on. Keep false in prod and run Terraform/kubectl from inside the VPC (VPN, SSM bastion, in-VPC CI runner)."
  type        = bool
  default     = false
}

variable "endpoint_public_access_cidrs" {
  description = "CIDR allow-list of the public API endpoint, used only when `endpoint_public_access` is true. Must be non-empty in that case and may never contain 0.0.0.0/0 or ::/0."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.endpoint_public_access_cidrs : can(cidrhost(c, 0))])
    error_message = "Every entry of endpoint_public_access_cidrs must be a valid CIDR block."
  }

  validation {
    condition = alltrue([
      for c in var.endpoint_public_access_cidrs :
      !contains(["0.0.0.0/0", "::/0"], c) && !endswith(c, "/0")
    ])
    error_message = "endpoint_public_access_cidrs must not open the API server to the whole internet (0.0.0.0/0 or ::/0)."
  }

  validation {
    condition     = !var.endpoint_public_access || length(var.endpoint_public_access_cidrs) > 0
    error_message = "When endpoint_public_access is true, endpoint_public_access_cidrs must list at least one CIDR (an empty list means 0.0.0.0/0 to EKS)."
  }
}

variable "enabled_log_types" {
  description = "Control-plane log types shipped to CloudWatch Logs."
  type        = list(string)
  default     = ["api", "audit", "authenticator", "controllerManager", "scheduler"]

  validation {
    condition     = alltrue([for t in var.enabled_log_types : contains(["api", "audit", "authenticator", "controllerManager", "scheduler"], t)])
    error_message = "enabled_log_types may only contain api, audit, authenticator, controllerManager and scheduler."
  }

  validation {
    condition     = contains(var.enabled_log_types, "audit")
    error_message = "The audit log must stay enabled."
  }
}

variable "log_retention_days" {
  description = "Retention of the control-plane log group, in days: one of the periods CloudWatch Logs accepts (the stack validates the deployment's log_retention_days)."
  type        = number
  default     = 90
}

variable "node_group" {
  description = "The default managed node group: `instance_types` (the first one that has capacity is used), `capacity_type` (ON_DEMAND or SPOT), `min_size` (at least 1: the system add-ons need somewhere to run), `max_size`, `desired_size` (the initial count, ignored by the EKS module after creation so autoscalers can own it) and `disk_size_gib` (each node's encrypted gp3 root volume)."
  type = object({
    instance_types = optional(list(string), ["m6i.large", "m5.large"])
    capacity_type  = optional(string, "ON_DEMAND")
    min_size       = optional(number, 2)
    max_size       = optional(number, 6)
    desired_size   = optional(number, 3)
    disk_size_gib  = optional(number, 50)
  })
  default = {}

  validation {
    condition     = length(var.node_group.instance_types) > 0 && contains(["ON_DEMAND", "SPOT"], var.node_group.capacity_type)
    error_message = "node_group needs at least one instance type and a capacity_type of ON_DEMAND or SPOT."
  }

  validation {
    condition     = var.node_group.min_size >= 1 && var.node_group.min_size <= var.node_group.desired_size && var.node_group.desired_size <= var.node_group.max_size
    error_message = "node_group sizes must satisfy 1 <= min_size <= desired_size <= max_size."
  }

  validation {
    condition     = var.node_group.disk_size_gib >= 20
    error_message = "node_group.disk_size_gib must be at least 20."
  }
}

variable "kms_key_administrators" {
  description = "IAM ARNs allowed to administer the secrets-encryption KMS key. Empty means the identity running Terraform."
  type        = list(string)
  default     = []
}

variable "admin_principal_arns" {
  description = "Extra IAM principal ARNs (roles or users) granted cluster-admin through EKS access entries, in addition to the identity running Terraform."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Extra tags for the cluster resources (the provider's default_tags add Project, Environment and ManagedBy)."
  type        = map(string)
  default     = {}
}
