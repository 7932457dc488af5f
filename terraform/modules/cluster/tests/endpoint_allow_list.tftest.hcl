# Runs in .github/workflows/terraform.yml (`terraform test`), not offline: it needs
# the provider registry for init. Only variable validation is exercised.

mock_provider "aws" {}

variables {
  name = "tp-test"
  network = {
    vpc_id             = "vpc-00000000"
    private_subnet_ids = ["subnet-00000001", "subnet-00000002"]
  }
}

run "rejects_world_open_allow_list" {
  command = plan

  variables {
    endpoint_public_access       = true
    endpoint_public_access_cidrs = ["0.0.0.0/0"]
  }

  expect_failures = [var.endpoint_public_access_cidrs]
}

run "rejects_public_endpoint_without_allow_list" {
  command = plan

  variables {
    endpoint_public_access       = true
    endpoint_public_access_cidrs = []
  }

  expect_failures = [var.endpoint_public_access_cidrs]
}

run "rejects_disabling_audit_logs" {
  command = plan

  variables {
    enabled_log_types = ["api"]
  }

  expect_failures = [var.enabled_log_types]
}
