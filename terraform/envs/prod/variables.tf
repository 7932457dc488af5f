# Deployment inputs: what an operator sets in terraform.tfvars or with -var.
# Root modules must declare their own variables, so dev and prod both list these;
# the validations live once, in modules/stack (and the modules it calls), and the
# environment's sizes and guarantees are set in main.tf.

variable "region" {
  description = "AWS region to deploy into (the only place a region comes from)."
  type        = string
}

variable "name" {
  description = "Deployment name; every resource name (VPC, cluster, database, repositories, roles) derives from it."
  type        = string
  default     = "taskplane-prod"
}

variable "tags" {
  description = "The stack's tags, passed on as it is (modules/stack/README.md describes it)."
  type        = map(string)
}

variable "availability_zones" {
  description = "Availability zones of the region to use (exactly 3), e.g. [\"<region>a\", \"<region>b\", \"<region>c\"]."
  type        = list(string)
}

variable "vpc_cidr" {
  description = "The stack's vpc_cidr, passed on as it is (modules/stack/README.md describes it)."
  type        = string
  default     = "10.20.0.0/16"
}

variable "endpoint_public_access" {
  description = "Expose the EKS API on the internet (CIDR-restricted). Off in prod: run Terraform and kubectl from inside the VPC."
  type        = bool
  default     = false
}

variable "endpoint_public_access_cidrs" {
  description = "The stack's endpoint_public_access_cidrs, passed on as it is (modules/stack/README.md describes it)."
  type        = list(string)
  default     = []
}

variable "admin_principal_arns" {
  description = "The stack's admin_principal_arns, passed on as it is (modules/stack/README.md describes it)."
  type        = list(string)
  default     = []
}

# Second apply: the Helm releases (terraform/README.md, step 6)

variable "enable_platform" {
  description = "The stack's enable_platform, passed on as it is (modules/stack/README.md describes it)."
  type        = bool
  default     = false
}

variable "image_tag" {
  description = "The stack's image_tag, passed on as it is (modules/stack/README.md describes it)."
  type        = string
  default     = null
}

variable "bootstrap_admin_email" {
  description = "The stack's bootstrap_admin_email, passed on as it is (modules/stack/README.md describes it)."
  type        = string
  default     = null
}

variable "chart_path" {
  description = "The stack's chart_path, passed on as it is (modules/stack/README.md describes it)."
  type        = string
  default     = null
}

variable "chart_repository" {
  description = "The stack's chart_repository, passed on as it is (modules/stack/README.md describes it)."
  type        = string
  default     = null
}

variable "chart_version" {
  description = "The stack's chart_version, passed on as it is (modules/stack/README.md describes it)."
  type        = string
  default     = null
}

variable "notification_settings" {
  description = "The stack's notification_settings, passed on as it is (modules/stack/README.md describes it)."
  type        = map(string)
  default     = {}
}

variable "notifications_lambda" {
  description = "The stack's notifications_lambda, passed on as it is (modules/stack/README.md describes it)."
  type = object({
    ses_identity  = string
    image_tag     = string
    alarm_actions = optional(list(string), [])
  })
  default = null
}
