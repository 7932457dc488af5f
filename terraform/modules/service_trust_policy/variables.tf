variable "service" {
  description = "Service principal that assumes the role, e.g. `lambda.amazonaws.com`."
  type        = string
}

variable "actions" {
  description = "What the service may do with the role: `sts:AssumeRole`, plus `sts:TagSession` for services that tag their sessions (EKS Pod Identity)."
  type        = list(string)
  default     = ["sts:AssumeRole"]
}

variable "sid" {
  description = "Statement ID of the trust statement (null: none)."
  type        = string
  default     = null
}
