variable "name" {
  description = "Name prefix for every network resource (for example `taskplane-prod`)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3-32 characters of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "vpc_cidr" {
  description = "IPv4 CIDR block of the VPC. A /16 leaves room for the three subnet tiers across three zones."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && tonumber(split("/", var.vpc_cidr)[1]) <= 20
    error_message = "vpc_cidr must be a valid IPv4 CIDR block of size /20 or larger."
  }
}

variable "availability_zones" {
  description = "Availability zone names to spread the subnets over, in order (2 or 3, e.g. the a/b/c zones of the region). Explicit names pin the zone set: a zone AWS adds or marks impaired never reshuffles the subnets."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) >= 2 && length(var.availability_zones) <= 3 && length(distinct(var.availability_zones)) == length(var.availability_zones)
    error_message = "availability_zones must list 2 or 3 distinct zones (RDS Multi-AZ and EKS both need at least two)."
  }
}

variable "single_nat_gateway" {
  description = "Use one shared NAT gateway (cheaper, fine for dev) instead of one per availability zone (zone-failure tolerant, recommended for prod)."
  type        = bool
  default     = false
}

variable "cluster_name" {
  description = "Name of the EKS cluster that will use these subnets; used for the `kubernetes.io/cluster/<name>` discovery tag."
  type        = string
}

variable "flow_log_retention_days" {
  description = "Retention of the VPC flow log CloudWatch log group, in days."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.flow_log_retention_days)
    error_message = "flow_log_retention_days must be one of the retention periods CloudWatch Logs accepts."
  }
}

variable "tags" {
  description = "Extra tags for the network resources (the provider's default_tags add Project, Environment and ManagedBy)."
  type        = map(string)
  default     = {}
}
