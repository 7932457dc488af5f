# The trust policy of an IAM role that one AWS service assumes for this account, shared by
# every module that creates such a role (database: RDS Proxy, identity: EKS Pod Identity,
# notifications_lambda: Lambda), so the confused-deputy guard is written once: the
# service may assume the role only while it acts for this account (aws:SourceAccount).

data "aws_caller_identity" "current" {}

data "aws_iam_policy_document" "this" {
  statement {
    sid     = var.sid
    actions = var.actions

    principals {
      type        = "Service"
      identifiers = [var.service]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}
