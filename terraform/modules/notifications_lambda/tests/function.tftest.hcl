# Runs in .github/workflows/terraform.yml (`terraform test`), not offline: it needs
# the provider registry for init. The providers are mocked: nothing reaches AWS.

mock_provider "aws" {
  source = "../../mocks/aws"
}

variables {
  name      = "tp-test"
  image_uri = "000000000000.dkr.ecr.mock-region-1.amazonaws.com/tp-test/notification-service:1.0.0"
  network = {
    vpc_id             = "vpc-00000000"
    private_subnet_ids = ["subnet-00000001", "subnet-00000002"]
  }
  ses_identity       = "example.com"
  log_retention_days = 30

  database_secret_arn = "arn:aws:secretsmanager:mock-region-1:000000000000:secret:rds-abc"
  kek_secret_arn      = "arn:aws:secretsmanager:mock-region-1:000000000000:secret:tp-test/notification-kek-abc"
  secret_kms_key_arns = ["arn:aws:kms:mock-region-1:000000000000:key/0000"]
  database_host       = "tp-test.mock.rds.amazonaws.com"
  database_name       = "taskplane"
}

run "function_topic_and_dead_letters_are_named_after_the_deployment" {
  command = plan

  assert {
    condition     = aws_lambda_function.this.function_name == "tp-test-notifications"
    error_message = "the function is <name>-notifications"
  }

  assert {
    condition     = aws_sns_topic.events.name == "tp-test-task-events"
    error_message = "the topic is <name>-task-events"
  }

  assert {
    condition     = aws_sqs_queue.dead_letter.name == "tp-test-notifications-dlq"
    error_message = "the dead-letter queue is <function>-dlq"
  }

  assert {
    condition     = aws_lambda_function.this.reserved_concurrent_executions == 10
    error_message = "the function's concurrency is reserved (and capped) by default"
  }

  assert {
    condition = (
      aws_lambda_function_event_invoke_config.this.maximum_retry_attempts == 2 &&
      aws_lambda_function_event_invoke_config.this.maximum_event_age_in_seconds == 21600 &&
      aws_sqs_queue.dead_letter.message_retention_seconds == 1209600
    )
    error_message = "failed_events defaults: 2 retries within 6 hours, then 14 days in the dead-letter queue"
  }
}

run "the_role_prefix_fits_iam_for_the_longest_name" {
  command = plan

  variables {
    name = "a-deployment-name-of-31-chars-x"
  }

  assert {
    condition     = length(aws_iam_role.function.name_prefix) <= 38
    error_message = "IAM refuses a role name_prefix over 38 characters"
  }
}

run "rejects_no_subnet" {
  command = plan

  variables {
    network = {
      vpc_id             = "vpc-00000000"
      private_subnet_ids = []
    }
  }

  expect_failures = [var.network]
}

run "rejects_more_retries_than_lambda_allows" {
  command = plan

  variables {
    failed_events = { maximum_retry_attempts = 3 }
  }

  expect_failures = [var.failed_events]
}
