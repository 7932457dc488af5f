# The stack configures no provider (a module that does cannot take count or
# depends_on), so its caller does: the region from here, the tags from the stack.
# enable_platform stays false in this example, so no resource talks to the cluster and
# the stack's Kubernetes and Helm providers keep their empty default configuration
# (envs/ connect them to the cluster through module.stack.kubernetes).

provider "aws" {
  region = var.region

  default_tags {
    tags = module.stack.default_tags
  }
}
