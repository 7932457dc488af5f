# Runs in .github/workflows/terraform.yml (`terraform test`), not offline: it needs
# the provider registry for init. The providers are mocked: nothing reaches AWS.
# random stays real: its passwords are ephemeral and never leave the plan.

mock_provider "aws" {
  source = "../../mocks/aws"
}

variables {
  name = "tp-test"
}

run "secret_and_key_are_named_after_the_deployment" {
  command = plan

  assert {
    condition     = aws_secretsmanager_secret.platform.name == "tp-test/platform"
    error_message = "the platform secret is <name>/platform"
  }

  assert {
    condition     = module.kms.alias_name == "alias/tp-test-platform-secrets"
    error_message = "the key alias is alias/<name>-platform-secrets"
  }
}
