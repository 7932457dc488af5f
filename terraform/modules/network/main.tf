# Network: one VPC across the given availability zones with three subnet tiers.
#   public   - load balancers and NAT gateways (tagged for the AWS Load Balancer Controller)
#   private  - EKS nodes and pods (tagged for internal load balancers)
#   database - RDS only, no route to the internet
# VPC flow logs go to CloudWatch Logs.

# Look the zones up by name: an identity filter returns exactly the zones asked
# for, and the postcondition fails the plan if one does not exist in the region.
data "aws_availability_zones" "selected" {
  filter {
    name   = "zone-name"
    values = var.availability_zones
  }

  lifecycle {
    postcondition {
      condition     = length(self.names) == length(var.availability_zones)
      error_message = "Some of availability_zones do not exist in the provider's region."
    }
  }
}

locals {
  azs = var.availability_zones

  # Carve the VPC into /20 private subnets (4096 addresses each, pods use VPC IPs),
  # and /24 public and database subnets, without overlaps:
  #   private:  netnums 0..2   of /20  (first 3 x 4096 addresses)
  #   public:   netnums 48..50 of /24  (inside the 4th /20)
  #   database: netnums 52..54 of /24
  private_subnets  = [for i, _ in local.azs : cidrsubnet(var.vpc_cidr, 4, i)]
  public_subnets   = [for i, _ in local.azs : cidrsubnet(var.vpc_cidr, 8, i + 48)]
  database_subnets = [for i, _ in local.azs : cidrsubnet(var.vpc_cidr, 8, i + 52)]
}

module "vpc" {
  #checkov:skip=CKV_TF_1:Terraform Registry module constrained to one major version (a floor and the next major as ceiling); registry releases are immutable, reviewed version tags, and a commit-hash git source would bypass registry version resolution.
  source  = "terraform-aws-modules/vpc/aws"
  version = ">= 6.0, < 7.0"

  name = var.name
  cidr = var.vpc_cidr
  # Depend on the lookup so a wrong zone name fails before anything is created.
  azs = [for z in local.azs : z if contains(data.aws_availability_zones.selected.names, z)]

  private_subnets  = local.private_subnets
  public_subnets   = local.public_subnets
  database_subnets = local.database_subnets

  # The database tier gets its own subnet group and no internet route.
  create_database_subnet_group           = true
  create_database_subnet_route_table     = true
  create_database_internet_gateway_route = false
  create_database_nat_gateway_route      = false

  enable_nat_gateway     = true
  single_nat_gateway     = var.single_nat_gateway
  one_nat_gateway_per_az = !var.single_nat_gateway

  enable_dns_hostnames = true
  enable_dns_support   = true

  # Public subnets must not hand out public IPs to anything launched there by default.
  map_public_ip_on_launch = false

  # Lock down the default security group and NACL of the VPC (nothing uses them).
  manage_default_security_group  = true
  default_security_group_ingress = []
  default_security_group_egress  = []

  enable_flow_log                                 = true
  create_flow_log_cloudwatch_log_group            = true
  create_flow_log_cloudwatch_iam_role             = true
  flow_log_max_aggregation_interval               = 60
  flow_log_cloudwatch_log_group_retention_in_days = var.flow_log_retention_days

  public_subnet_tags = {
    "kubernetes.io/role/elb"                    = "1"
    "kubernetes.io/cluster/${var.cluster_name}" = "shared"
  }

  private_subnet_tags = {
    "kubernetes.io/role/internal-elb"           = "1"
    "kubernetes.io/cluster/${var.cluster_name}" = "shared"
  }

  tags = var.tags
}
