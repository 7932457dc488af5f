# Runs in .github/workflows/terraform.yml (`terraform test`), not offline: it needs
# the provider registry for init. The providers are mocked: nothing reaches AWS.

mock_provider "aws" {
  source = "../../mocks/aws"
}

variables {
  service = "pods.eks.amazonaws.com"
  actions = ["sts:AssumeRole", "sts:TagSession"]
}

run "only_the_service_acting_for_this_account_assumes_the_role" {
  command = plan

  assert {
    condition     = anytrue([for p in data.aws_iam_policy_document.this.statement[0].principals : p.type == "Service" && contains(p.identifiers, "pods.eks.amazonaws.com")])
    error_message = "the role is trusted by the service principal"
  }

  assert {
    condition     = anytrue([for c in data.aws_iam_policy_document.this.statement[0].condition : c.variable == "aws:SourceAccount" && contains(c.values, "000000000000")])
    error_message = "the trust is limited to this account (aws:SourceAccount)"
  }

  assert {
    condition     = toset(data.aws_iam_policy_document.this.statement[0].actions) == toset(["sts:AssumeRole", "sts:TagSession"])
    error_message = "the service may take the role with exactly the actions asked for"
  }
}
