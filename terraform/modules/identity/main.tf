# EKS Pod Identity: one IAM role per (namespace, service account) that needs AWS,
# associated through aws_eks_pod_identity_association (no IRSA annotations needed).
#
# Used for the External Secrets Operator, which reads the RDS-managed master
# secret and the secrets module's platform and service-token secrets, and
# materialises the Kubernetes Secrets the taskplane chart consumes (see the
# platform module). The taskplane pods themselves get no AWS credentials at all.

data "aws_region" "current" {}

module "trust" {
  source = "../service_trust_policy"

  service = "pods.eks.amazonaws.com"
  actions = ["sts:AssumeRole", "sts:TagSession"]
  sid     = "EksPodIdentity"
}

data "aws_iam_policy_document" "secret_reader" {
  for_each = var.secret_readers

  statement {
    sid       = "ReadExactlyTheseSecrets"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = each.value.secret_arns
  }

  dynamic "statement" {
    for_each = length(each.value.kms_key_arns) > 0 ? [1] : []

    content {
      sid       = "DecryptThroughSecretsManagerOnly"
      actions   = ["kms:Decrypt"]
      resources = each.value.kms_key_arns

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["secretsmanager.${data.aws_region.current.region}.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role" "this" {
  for_each = var.secret_readers

  name_prefix        = substr("${var.name}-${each.key}-", 0, 38)
  description        = "Pod Identity for ${each.value.namespace}/${each.value.service_account} on ${var.cluster_name}"
  assume_role_policy = module.trust.json

  tags = var.tags
}

resource "aws_iam_role_policy" "this" {
  for_each = var.secret_readers

  name   = "read-secrets"
  role   = aws_iam_role.this[each.key].id
  policy = data.aws_iam_policy_document.secret_reader[each.key].json
}

resource "aws_eks_pod_identity_association" "this" {
  for_each = var.secret_readers

  cluster_name    = var.cluster_name
  namespace       = each.value.namespace
  service_account = each.value.service_account
  role_arn        = aws_iam_role.this[each.key].arn

  tags = var.tags
}
