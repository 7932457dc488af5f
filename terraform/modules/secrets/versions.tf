terraform {
  # Write-only attributes (secret_string_wo) need Terraform 1.11.
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.27"
    }
    random = {
      source  = "hashicorp/random"
      version = ">= 3.7"
    }
  }
}
