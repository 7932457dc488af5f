# Provider configuration must live in the root module (a module that configures
# providers cannot be called with count or depends_on, and Terraform documents
# it as legacy), so dev and prod each keep these few lines; every value comes
# from modules/stack: the tags and the EKS connection, built once there.

provider "aws" {
  region = var.region

  # Every taggable AWS resource gets these; the required keys win over var.tags.
  default_tags {
    tags = module.stack.default_tags
  }
}

# Both Kubernetes-facing providers authenticate with a short-lived token from
# `aws eks get-token` (AWS CLI v2 needed where Terraform runs).
# In dev the public endpoint is on, restricted to endpoint_public_access_cidrs.
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
