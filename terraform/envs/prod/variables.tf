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
  description = "Tags for every resource, merged under the required Project, Environment and ManagedBy tags (which cannot be overridden). Must name an Owner."
  type        = map(string)
}

variable "availability_zones" {
  description = "Availability zones of the region to use (exactly 3), e.g. [\"<region>a\", \"<region>b\", \"<region>c\"]."
  type        = list(string)
}

variable "vpc_cidr" {
  description = "IPv4 CIDR block of the VPC."
  type        = string
  default     = "10.20.0.0/16"
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
}

variable "admin_principal_arns" {
  description = "IAM role/user ARNs granted cluster-admin via EKS access entries (the identity running Terraform always is)."
  type        = list(string)
  default     = []
}

# Second apply: the Helm releases (terraform/README.md, step 6)

variable "enable_platform" {
  description = "Install the Helm releases (External Secrets, taskplane). Leave false for the first apply, push the images, then set true."
  type        = bool
  default     = false
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

variable "notification_settings" {
  description = "Settings of the notification-service as TASKPLANE_* environment variables (apps/notification-service/README.md), e.g. TASKPLANE_SMTP_HOST, TASKPLANE_SMTP_PORT, TASKPLANE_SMTP_SECURITY, TASKPLANE_SMTP_FROM; passed to the chart as notification-service.env. No secrets here: they would land in the Helm release."
  type        = map(string)
  default     = {}
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
