variable "name" {
  description = "Name prefix for every network resource (for example `taskplane-prod`): only Name tags, which take any string; the cluster module validates the deployment name it shares."
  type        = string
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
  description = "Retention of the VPC flow log CloudWatch log group, in days: one of the periods CloudWatch Logs accepts (the stack validates the deployment's log_retention_days)."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Extra tags for the network resources (the provider's default_tags add Project, Environment and ManagedBy)."
  type        = map(string)
  default     = {}
}
