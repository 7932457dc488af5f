# ECR: one private repository per image, immutable tags, scan on push, KMS
# encryption and a lifecycle policy. Plain resources rather than a registry module:
# six identical repositories are a for_each, and checkov can then see (and check)
# every setting.
#
# Nodes pull through the AmazonEC2ContainerRegistryReadOnly policy the EKS module
# attaches to the node role, so no pull policy is needed here.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  registry_host = "${data.aws_caller_identity.current.account_id}.dkr.ecr.${data.aws_region.current.region}.amazonaws.com"
}

resource "aws_ecr_repository" "this" {
  for_each = toset(var.images)

  name                 = "${var.repository_prefix}/${each.key}"
  image_tag_mutability = "IMMUTABLE"
  force_delete         = var.force_delete

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = var.kms_key_arn
  }

  tags = var.tags
}

resource "aws_ecr_lifecycle_policy" "this" {
  for_each = aws_ecr_repository.this

  repository = each.value.name
  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Expire untagged images after ${var.untagged_image_expiry_days} days"
        selection = {
          tagStatus   = "untagged"
          countType   = "sinceImagePushed"
          countUnit   = "days"
          countNumber = var.untagged_image_expiry_days
        }
        action = { type = "expire" }
      },
      {
        rulePriority = 2
        description  = "Keep the ${var.keep_tagged_images} most recent tagged images"
        selection = {
          tagStatus      = "tagged"
          tagPatternList = ["*"]
          countType      = "imageCountMoreThan"
          countNumber    = var.keep_tagged_images
        }
        action = { type = "expire" }
      },
    ]
  })
}

################################################################################
# Optional push policy for CI / release engineers
################################################################################

data "aws_iam_policy_document" "push" {
  count = var.create_push_policy ? 1 : 0

  # ecr:GetAuthorizationToken is account-wide: it supports no resource-level
  # permissions, so AWS requires Resource "*". It only yields a registry login
  # token; every read/write below is limited to our repositories.
  statement {
    sid       = "RegistryLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid = "PushToTaskplaneRepositories"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:CompleteLayerUpload",
      "ecr:DescribeImages",
      "ecr:DescribeRepositories",
      "ecr:GetDownloadUrlForLayer",
      "ecr:InitiateLayerUpload",
      "ecr:ListImages",
      "ecr:PutImage",
      "ecr:UploadLayerPart",
    ]
    resources = [for r in aws_ecr_repository.this : r.arn]
  }
}

resource "aws_iam_policy" "push" {
  count = var.create_push_policy ? 1 : 0

  name_prefix = "${var.repository_prefix}-ecr-push-"
  description = "Push images to the ${var.repository_prefix}/* ECR repositories"
  policy      = data.aws_iam_policy_document.push[0].json

  tags = var.tags
}
