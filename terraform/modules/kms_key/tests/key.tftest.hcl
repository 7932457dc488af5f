# Runs in .github/workflows/terraform.yml (`terraform test`), not offline: it needs
# the provider registry for init. The providers are mocked: nothing reaches AWS.

mock_provider "aws" {
  source = "../../mocks/aws"
}

variables {
  alias       = "tp-test-platform-secrets"
  description = "tp-test: taskplane platform secrets"
}

run "a_rotating_key_behind_its_alias" {
  command = plan

  assert {
    condition     = aws_kms_key.this.enable_key_rotation && aws_kms_key.this.deletion_window_in_days == 30
    error_message = "the key must rotate and stay recoverable for 30 days"
  }

  assert {
    condition     = aws_kms_alias.this.name == "alias/tp-test-platform-secrets"
    error_message = "the alias is alias/<alias>"
  }
}

run "rejects_an_aws_reserved_alias" {
  command = plan

  variables {
    alias = "aws/rds"
  }

  expect_failures = [var.alias]
}
