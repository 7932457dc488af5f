# Runs in .github/workflows/terraform.yml (`terraform test`), not offline: it needs
# the provider registry for init. The AWS provider is mocked.

mock_provider "aws" {
  source = "../../mocks/aws"
}

variables {
  name         = "tp-test"
  cluster_name = "tp-test"
}

run "rejects_wildcard_secret_arn" {
  command = plan

  variables {
    secret_readers = {
      eso = {
        namespace       = "external-secrets"
        service_account = "external-secrets"
        secret_arns     = ["arn:aws:secretsmanager:mock-region-1:000000000000:secret:*"]
      }
    }
  }

  expect_failures = [var.secret_readers]
}

run "one_role_and_association_per_reader" {
  command = plan

  variables {
    secret_readers = {
      eso = {
        namespace       = "external-secrets"
        service_account = "external-secrets"
        secret_arns     = ["arn:aws:secretsmanager:mock-region-1:000000000000:secret:rds-abc"]
        kms_key_arns    = ["arn:aws:kms:mock-region-1:000000000000:key/0000"]
      }
    }
  }

  assert {
    condition     = length(aws_eks_pod_identity_association.this) == 1
    error_message = "expected one Pod Identity association"
  }

  assert {
    condition     = aws_eks_pod_identity_association.this["eso"].namespace == "external-secrets" && aws_eks_pod_identity_association.this["eso"].service_account == "external-secrets"
    error_message = "association targets the wrong service account"
  }
}
