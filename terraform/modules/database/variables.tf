variable "name" {
  description = "Name prefix of the database resources; the RDS instance identifier is `<name>-postgres`."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,40}[a-z0-9]$", var.name))
    error_message = "name must be 3-42 characters of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "network" {
  description = "Where the database runs (the network module's outputs, e.g. `module.network`): `vpc_id`, `database_subnet_group_name` (the DB subnet group of the isolated database subnets) and `database_subnet_ids` (the RDS Proxy's subnets, at least two zones; needed only when `proxy_enabled`)."
  type = object({
    vpc_id                     = string
    database_subnet_group_name = string
    database_subnet_ids        = optional(list(string), [])
  })

  validation {
    condition     = !var.proxy_enabled || length(var.network.database_subnet_ids) >= 2
    error_message = "network.database_subnet_ids needs at least two subnets (two availability zones) when proxy_enabled is true."
  }
}

variable "allowed_security_groups" {
  description = "Security groups allowed to connect on the PostgreSQL port (the EKS node security group), by a name the configuration states (e.g. `eks-nodes`): the names key the ingress rules, so they must be known when planning, while the IDs may not be yet (the node group of a cluster created in the same apply)."
  type        = map(string)

  validation {
    condition     = length(var.allowed_security_groups) > 0
    error_message = "At least one client security group is needed, otherwise nothing can reach the database."
  }
}

variable "engine_version" {
  description = "PostgreSQL engine version. A major version alone (for example `17`) lets RDS pick the default minor version; minor upgrades are automatic."
  type        = string
  default     = "17"

  validation {
    condition     = can(regex("^17(\\.[0-9]+)?$", var.engine_version))
    error_message = "engine_version must be PostgreSQL 17 (`17` or `17.x`): the parameter group family is postgres17."
  }
}

variable "instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.medium"

  validation {
    condition     = startswith(var.instance_class, "db.")
    error_message = "instance_class must be an RDS instance class such as db.t4g.medium."
  }
}

variable "allocated_storage_gib" {
  description = "Initial allocated gp3 storage, in GiB."
  type        = number
  default     = 20

  validation {
    condition     = var.allocated_storage_gib >= 20
    error_message = "allocated_storage_gib must be at least 20 (gp3 minimum)."
  }
}

variable "max_allocated_storage_gib" {
  description = "Upper bound for storage autoscaling, in GiB."
  type        = number
  default     = 100

  validation {
    condition     = var.max_allocated_storage_gib >= var.allocated_storage_gib
    error_message = "max_allocated_storage_gib must be at least allocated_storage_gib."
  }
}

variable "database_name" {
  description = "Name of the application database created in the instance."
  type        = string
  default     = "taskplane"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,62}$", var.database_name))
    error_message = "database_name must be a lowercase PostgreSQL identifier."
  }
}

variable "master_username" {
  description = "Master user name. Its password is generated and rotated by RDS in Secrets Manager and never appears in Terraform state."
  type        = string
  default     = "taskplane_admin"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,62}$", var.master_username)) && !contains(["postgres", "rdsadmin", "admin", "user"], var.master_username)
    error_message = "master_username must be a lowercase PostgreSQL identifier and not a reserved name."
  }
}

variable "multi_az" {
  description = "Run a synchronous standby in a second availability zone. Must be true in prod."
  type        = bool
  default     = true
}

variable "deletion_protection" {
  description = "Refuse to delete the instance. Must be true in prod."
  type        = bool
  default     = true
}

variable "skip_final_snapshot" {
  description = "Skip the final snapshot on deletion (dev only)."
  type        = bool
  default     = false
}

variable "backup_retention_days" {
  description = "Days of automated backups (point-in-time recovery window)."
  type        = number
  default     = 7

  validation {
    condition     = var.backup_retention_days >= 1 && var.backup_retention_days <= 35
    error_message = "backup_retention_days must be between 1 and 35."
  }
}

variable "backup_window" {
  description = "Daily UTC window for automated backups (hh24:mi-hh24:mi), must not overlap maintenance_window."
  type        = string
  default     = "03:00-04:00"
}

variable "maintenance_window" {
  description = "Weekly UTC maintenance window (ddd:hh24:mi-ddd:hh24:mi)."
  type        = string
  default     = "sun:04:30-sun:05:30"
}

variable "log_min_duration_statement_ms" {
  description = "Log every statement slower than this many milliseconds (PostgreSQL `log_min_duration_statement`); -1 turns it off."
  type        = number
  default     = 500

  validation {
    condition     = var.log_min_duration_statement_ms >= -1
    error_message = "log_min_duration_statement_ms must be -1 (off) or a non-negative number of milliseconds."
  }
}

variable "log_retention_days" {
  description = "Retention of the exported PostgreSQL logs in CloudWatch Logs, in days: one of the periods CloudWatch Logs accepts (the stack validates the deployment's log_retention_days)."
  type        = number
  default     = 90
}

variable "performance_insights_enabled" {
  description = "Enable Performance Insights (encrypted with the module's KMS key). Not available on the smallest instance classes."
  type        = bool
  default     = true
}

variable "monitoring_interval_seconds" {
  description = "Enhanced Monitoring interval in seconds (0 disables it)."
  type        = number
  default     = 60

  validation {
    condition     = contains([0, 1, 5, 10, 15, 30, 60], var.monitoring_interval_seconds)
    error_message = "monitoring_interval_seconds must be one of 0, 1, 5, 10, 15, 30, 60."
  }
}

variable "tags" {
  description = "Extra tags for the database resources (the provider's default_tags add Project, Environment and ManagedBy)."
  type        = map(string)
  default     = {}
}

variable "proxy_enabled" {
  description = "Put an RDS Proxy in front of the instance (output `proxy_endpoint`): it multiplexes the services' pooled connections onto a bounded number of database connections. Sessions that prepare statements, LISTEN or hold advisory locks are pinned and gain nothing: the task-service and the migrations keep the instance endpoint."
  type        = bool
  default     = false
}

variable "proxy_max_connections_percent" {
  description = "Most database connections the proxy opens, in percent of the instance's max_connections (the rest stays for direct clients: the task-service, migrations, people)."
  type        = number
  default     = 50

  validation {
    condition     = var.proxy_max_connections_percent >= 1 && var.proxy_max_connections_percent <= 100
    error_message = "proxy_max_connections_percent must be between 1 and 100."
  }
}

variable "proxy_idle_client_timeout_s" {
  description = "Seconds a client connection may idle at the proxy before it closes it (the services' pools recycle theirs after 1800 s)."
  type        = number
  default     = 1800

  validation {
    condition     = var.proxy_idle_client_timeout_s >= 1 && var.proxy_idle_client_timeout_s <= 28800
    error_message = "proxy_idle_client_timeout_s must be between 1 and 28800."
  }
}
