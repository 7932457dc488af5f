# The stack configures no provider (a module that does cannot take count or
# depends_on), so its caller does: the tags and the EKS connection come from it.

provider "aws" {
  region = var.region

  default_tags {
    tags = module.stack.default_tags
  }
}

# Only used once enable_platform is true (not in this example); configured anyway,
# because Terraform needs every provider of the module tree configured to plan.
provider "kubernetes" {
  host                   = module.stack.kubernetes.host
  cluster_ca_certificate = module.stack.kubernetes.cluster_ca_certificate

  exec {
    api_version = module.stack.kubernetes.exec.api_version
    command     = module.stack.kubernetes.exec.command
    args        = module.stack.kubernetes.exec.args
  }
}

provider "helm" {
  kubernetes = module.stack.kubernetes
}
