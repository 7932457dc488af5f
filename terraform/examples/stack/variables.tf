variable "region" {
  description = "AWS region of the example (its zones a and b are used)."
  type        = string
}

variable "name" {
  description = "Deployment name of the example; every resource name derives from it."
  type        = string
  default     = "tp-example"
}

variable "owner" {
  description = "Owner tag of every resource (the stack refuses a deployment without one)."
  type        = string
  default     = "taskplane-example"
}
