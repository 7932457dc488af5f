# A root module of its own: it pins what the module only floors, and keeps its state
# locally (an example is applied, looked at and destroyed).
terraform {
  required_version = "~> 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.27"
    }
  }
}
