# Runs in .github/workflows/terraform.yml (`terraform test`), not offline: it needs
# the provider registry for init. The providers are mocked: nothing reaches AWS.

mock_provider "aws" {
  source = "../../mocks/aws"
}

variables {
  repository_prefix = "tp-test"
}

run "one_immutable_scanned_repository_per_image" {
  command = plan

  assert {
    condition     = length(aws_ecr_repository.this) == length(var.images)
    error_message = "expected one repository per image"
  }

  assert {
    condition     = alltrue([for repository in aws_ecr_repository.this : repository.image_tag_mutability == "IMMUTABLE" && repository.image_scanning_configuration[0].scan_on_push])
    error_message = "every repository must have immutable tags and scan on push"
  }

  assert {
    condition     = aws_ecr_repository.this["task-service"].name == "tp-test/task-service"
    error_message = "repositories are named <repository_prefix>/<image>"
  }
}

run "no_push_policy_when_not_asked" {
  command = plan

  variables {
    create_push_policy = false
  }

  assert {
    condition     = length(aws_iam_policy.push) == 0
    error_message = "create_push_policy = false must create no policy"
  }
}

run "rejects_an_uppercase_prefix" {
  command = plan

  variables {
    repository_prefix = "TP-Test"
  }

  expect_failures = [var.repository_prefix]
}
