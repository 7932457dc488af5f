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
