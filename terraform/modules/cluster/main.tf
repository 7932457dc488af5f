# EKS cluster on terraform-aws-modules/eks v21 (v21 input names: `name`,
# `kubernetes_version`, `endpoint_public_access`, `addons`, `enabled_log_types`, ...).
#
# - private API endpoint always on; public endpoint optional and CIDR-restricted
# - Kubernetes secrets envelope-encrypted with a customer managed KMS key created by the module
# - all five control-plane log types to CloudWatch Logs
# - one managed node group on Amazon Linux 2023, IMDSv2 only, encrypted gp3 root volumes
# - EKS add-ons, including the Pod Identity agent the identity module relies on
# - access entries (API authentication mode), no aws-auth ConfigMap

module "eks" {
  #checkov:skip=CKV_TF_1:Terraform Registry module constrained to one major version (a floor and the next major as ceiling); registry releases are immutable, reviewed version tags, and a commit-hash git source would bypass registry version resolution.
  source  = "terraform-aws-modules/eks/aws"
  version = ">= 21.0, < 22.0"

  name               = var.name
  kubernetes_version = var.kubernetes_version

  vpc_id     = var.network.vpc_id
  subnet_ids = var.network.private_subnet_ids

  endpoint_private_access      = true
  endpoint_public_access       = var.endpoint_public_access
  endpoint_public_access_cidrs = var.endpoint_public_access ? var.endpoint_public_access_cidrs : []

  authentication_mode                      = "API"
  enable_cluster_creator_admin_permissions = true
  access_entries = {
    for i, arn in var.admin_principal_arns : "admin-${i}" => {
      principal_arn = arn
      policy_associations = {
        admin = {
          policy_arn = "arn:${data.aws_partition.current.partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
          access_scope = {
            type = "cluster"
          }
        }
      }
    }
  }

  # Secrets encryption with a customer managed key (module default, stated explicitly).
  create_kms_key                  = true
  enable_kms_key_rotation         = true
  kms_key_deletion_window_in_days = 30
  kms_key_administrators          = var.kms_key_administrators
  encryption_config = {
    resources = ["secrets"]
  }

  enabled_log_types                      = var.enabled_log_types
  create_cloudwatch_log_group            = true
  cloudwatch_log_group_retention_in_days = var.log_retention_days

  addons = {
    coredns = {}
    eks-pod-identity-agent = {
      before_compute = true
    }
    kube-proxy = {}
    vpc-cni = {
      before_compute = true
    }
  }

  eks_managed_node_groups = {
    default = {
      ami_type       = "AL2023_x86_64_STANDARD"
      instance_types = var.node_group.instance_types
      capacity_type  = var.node_group.capacity_type

      min_size     = var.node_group.min_size
      max_size     = var.node_group.max_size
      desired_size = var.node_group.desired_size

      # IMDSv2 only, one hop: pods cannot reach the node role through IMDS;
      # they get AWS credentials from EKS Pod Identity instead.
      metadata_options = {
        http_endpoint               = "enabled"
        http_tokens                 = "required"
        http_put_response_hop_limit = 1
      }

      block_device_mappings = {
        xvda = {
          device_name = "/dev/xvda"
          ebs = {
            volume_size           = var.node_group.disk_size_gib
            volume_type           = "gp3"
            encrypted             = true
            delete_on_termination = true
          }
        }
      }
    }
  }

  tags = var.tags
}

data "aws_partition" "current" {}
