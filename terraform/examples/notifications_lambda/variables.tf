variable "region" {
  description = "AWS region of the example: where the VPC, the image and the SES identity are."
  type        = string
}

variable "name" {
  description = "Deployment name of the example; the function is `<name>-notifications`."
  type        = string
  default     = "tp-example"
}

variable "vpc_id" {
  description = "An existing VPC whose private subnets route to a NAT gateway."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of that VPC the function runs in."
  type        = list(string)
}

variable "image_uri" {
  description = "The notification-service image in ECR, `<repository_url>:<tag>`."
  type        = string
}

variable "ses_identity" {
  description = "SES domain or address the function sends email from."
  type        = string
}

variable "database_secret_arn" {
  description = "The RDS-managed master user secret the function builds DATABASE_URL from."
  type        = string
}

variable "database_host" {
  description = "Host name of the PostgreSQL server the platform uses."
  type        = string
}

variable "database_name" {
  description = "Name of the platform's database on that server."
  type        = string
  default     = "taskplane"
}

variable "kek_secret_arn" {
  description = "The secret holding the notification-service's key-encryption key (`<name>/notification-kek`)."
  type        = string
}

variable "secret_kms_key_arns" {
  description = "KMS keys of the database and key-encryption-key secrets."
  type        = list(string)
}
