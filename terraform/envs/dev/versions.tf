# Each root module declares its own Terraform version, backend and the providers
# it configures (providers.tf), so envs/dev and envs/prod both hold this block.
# The pins live here: the child modules only state floors (>=), as reusable modules
# do, and this root pins every provider any of them uses (random in modules/secrets
# included); `terraform init` records the exact versions in .terraform.lock.hcl.
terraform {
  required_version = "~> 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.27"
    }
    helm = {
      source  = "hashicorp/helm"
      version = "~> 3.0"
    }
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = "~> 2.38"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.7"
    }
  }

  # Remote state in S3 with S3-native locking (use_lockfile, Terraform >= 1.10;
  # no DynamoDB table). Partial configuration: bucket, key and region come from
  # `terraform init -backend-config=backend.hcl` (see backend.hcl.example), so
  # no account, bucket or region is written here.
  backend "s3" {
    use_lockfile = true
    encrypt      = true
  }
}
