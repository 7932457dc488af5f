# One customer managed KMS key with taskplane's key policy, shared by every module that
# encrypts with its own key (database, secrets, notifications_lambda), so the policy is
# written once:
#
# - the account administers and uses the key through IAM (AWS's default key policy:
#   who may encrypt or decrypt is decided by the callers' IAM policies)
# - optionally, AWS services that encrypt for this account (SNS, ...), limited to this
#   account by aws:SourceAccount
# - optionally, CloudWatch Logs for exactly the log groups named (encryption context)
#
# Automatic yearly rotation is on; KMS keeps the earlier key material, so anything
# encrypted before a rotation still decrypts.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

data "aws_iam_policy_document" "this" {
  #checkov:skip=CKV_AWS_109:KMS key policy: Resource "*" means this key only, and the account root statement is AWS's default key policy that delegates key administration to IAM.
  #checkov:skip=CKV_AWS_111:KMS key policy: Resource "*" means this key only; writers are the account (through IAM), the listed AWS services limited by source account, and CloudWatch Logs limited by encryption context.
  #checkov:skip=CKV_AWS_356:KMS key policy: Resource "*" is the only valid resource in a key policy and refers to this key.
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  dynamic "statement" {
    for_each = length(var.service_principals) > 0 ? [1] : []

    content {
      sid       = "AwsServicesOfThisAccount"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
      resources = ["*"]

      principals {
        type        = "Service"
        identifiers = var.service_principals
      }

      condition {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [data.aws_caller_identity.current.account_id]
      }
    }
  }

  dynamic "statement" {
    for_each = length(var.log_groups) > 0 ? [1] : []

    content {
      sid = "CloudWatchLogs"
      actions = [
        "kms:Encrypt*",
        "kms:Decrypt*",
        "kms:ReEncrypt*",
        "kms:GenerateDataKey*",
        "kms:Describe*",
      ]
      resources = ["*"]

      principals {
        type        = "Service"
        identifiers = ["logs.${data.aws_region.current.region}.amazonaws.com"]
      }

      condition {
        test     = "ArnLike"
        variable = "kms:EncryptionContext:aws:logs:arn"
        values   = [for name in var.log_groups : "arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:log-group:${name}"]
      }
    }
  }
}

resource "aws_kms_key" "this" {
  description             = var.description
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.this.json

  tags = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.alias}"
  target_key_id = aws_kms_key.this.key_id
}
