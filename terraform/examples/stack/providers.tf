# The stack configures no provider (a module that does cannot take count or
# depends_on), so its caller does: the AWS provider takes the region and the tags
# from here and the stack.

provider "aws" {
  region = var.region

  default_tags {
    tags = module.stack.default_tags
  }
}

# enable_platform stays false in this example, so no resource talks to the cluster:
# Terraform still wants the stack's Kubernetes providers configured, and empty
# configurations do (envs/ connect them to the cluster through module.stack.kubernetes).
provider "kubernetes" {}

provider "helm" {}
