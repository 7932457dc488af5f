terraform {
  # Cross-variable validation (the production guarantees) needs Terraform >= 1.9;
  # the secrets module's write-only attributes need 1.11.
  required_version = ">= 1.11"

  # This module creates no resources itself. The child modules state the floors of
  # the providers they use (helm and kubernetes in platform, random in secrets); the
  # root module that calls the stack pins and configures them (envs/<env>/versions.tf
  # and providers.tf).
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.27"
    }
  }
}
