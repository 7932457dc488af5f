# The serverless delivery path of the notification-service: the service's feed relay
# publishes task events to an SNS topic, SNS invokes this Lambda function (the
# notification-service image's Lambda target, from ECR) asynchronously, and the
# function delivers through the service's own routing and channel code.
#
# - SNS topic, SQS dead-letter queue, function environment and log group encrypted
#   with one customer managed KMS key created here
# - asynchronous invocation: `maximum_retry_attempts` retries, then the event goes
#   to the SQS queue (the function's dead-letter queue and on-failure destination)
# - database URL and credentials from Secrets Manager, never in the function's
#   environment: the RDS-managed master user secret (username, password) and the
#   function's settings secret `<name>/notifications-lambda` (JSON of TASKPLANE_*
#   values: the service token for the user-service, an SMTP password), and the
#   notification-service's key-encryption key `<name>/notification-kek` (the secrets
#   module's, shared with the in-cluster service), read once per execution environment
# - least-privilege role: logs to its own group, send to its own queue, SES send
#   from its own identity, decrypt with its own key, read exactly those two secrets; VPC and X-Ray through the AWS
#   managed policies (those actions support no resource-level permissions)
# - alarms on function errors and on any message in the dead-letter queue

data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  function_name = "${var.name}-notifications"
  log_group     = "/aws/lambda/${local.function_name}"
  # IAM caps a role's name_prefix at 38 characters (64 less the unique suffix); the
  # function name reaches 45 for the longest deployment name the module accepts.
  role_name_prefix = substr("${local.function_name}-", 0, 38)
}

################################################################################
# KMS key: topic, dead-letter queue, function environment, log group
################################################################################

# SNS encrypts and reads the encrypted topic on delivery to the function; CloudWatch
# Logs encrypts the function's log group.
module "kms" {
  source = "../kms_key"

  alias              = local.function_name
  description        = "${local.function_name}: SNS topic, dead-letter queue, function environment, settings secret and logs"
  service_principals = ["sns.amazonaws.com"]
  log_groups         = [local.log_group]

  tags = var.tags
}

################################################################################
# Topic, dead-letter queue, log group
################################################################################

# A standard topic: the relay sets the event id as the `event_id` message attribute
# and the function is to be idempotent on it (a FIFO topic cannot invoke Lambda directly).
resource "aws_sns_topic" "events" {
  name              = "${var.name}-task-events"
  kms_master_key_id = module.kms.arn

  tags = var.tags
}

resource "aws_sqs_queue" "dead_letter" {
  name                      = "${local.function_name}-dlq"
  kms_master_key_id         = module.kms.arn
  message_retention_seconds = var.failed_events.dead_letter_retention_s

  tags = var.tags
}

resource "aws_cloudwatch_log_group" "function" {
  #checkov:skip=CKV_AWS_338:Retention is the deployment's log_retention_days (30 days in dev, longer in prod), the same policy as the cluster and database logs; a year of delivery logs is not required.
  name              = local.log_group
  retention_in_days = var.log_retention_days
  kms_key_id        = module.kms.arn

  tags = var.tags
}

################################################################################
# Settings secret: what the function needs that is not known to Terraform
################################################################################

# Created empty-handed: after install an administrator puts a JSON object of TASKPLANE_*
# values in it (the README of this module lists them), e.g. a `tps_` service token with
# events:read users:read (minted at the auth-service after the platform is up).
resource "aws_secretsmanager_secret" "settings" {
  #checkov:skip=CKV2_AWS_57:Its values are minted after install (a service token, an SMTP password); rotating them is the documented procedure of docs/security.md, not a rotation Lambda.
  name                    = "${var.name}/notifications-lambda"
  description             = "${local.function_name}: TASKPLANE_* settings that are secret (service token, SMTP password), as a JSON object."
  kms_key_id              = module.kms.arn
  recovery_window_in_days = var.secret_recovery_window_days

  tags = var.tags
}

################################################################################
# SES identity the function sends from
################################################################################

resource "aws_sesv2_email_identity" "sender" {
  email_identity = var.ses_identity

  tags = var.tags
}

################################################################################
# Role
################################################################################

module "trust" {
  source = "../service_trust_policy"

  service = "lambda.amazonaws.com"
}

resource "aws_iam_role" "function" {
  name_prefix        = local.role_name_prefix
  assume_role_policy = module.trust.json

  tags = var.tags
}

data "aws_iam_policy_document" "function" {
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function.arn}:*"]
  }

  statement {
    sid       = "DeadLetter"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dead_letter.arn]
  }

  statement {
    sid       = "SendEmailFromOwnIdentity"
    actions   = ["ses:SendEmail", "ses:SendRawEmail"]
    resources = [aws_sesv2_email_identity.sender.arn]
  }

  statement {
    sid       = "UseOwnKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [module.kms.arn]
  }

  statement {
    sid       = "ReadExactlyItsSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.database_secret_arn, var.kek_secret_arn, aws_secretsmanager_secret.settings.arn]
  }

  statement {
    sid       = "DecryptThoseSecretsThroughSecretsManager"
    actions   = ["kms:Decrypt"]
    resources = var.secret_kms_key_arns

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${data.aws_region.current.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "function" {
  name   = "deliver"
  role   = aws_iam_role.function.id
  policy = data.aws_iam_policy_document.function.json
}

# ENI management and X-Ray segment writes support no resource-level permissions;
# the AWS managed policies grant exactly those actions.
resource "aws_iam_role_policy_attachment" "vpc" {
  role       = aws_iam_role.function.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

resource "aws_iam_role_policy_attachment" "xray" {
  role       = aws_iam_role.function.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AWSXRayDaemonWriteAccess"
}

################################################################################
# Function
################################################################################

resource "aws_security_group" "function" {
  name_prefix = "${local.function_name}-"
  description = "${local.function_name}: egress to the database, the user-service, webhook receivers and SES"
  vpc_id      = var.network.vpc_id

  egress {
    description = "HTTPS and SMTP receivers, SES, the user-service and PostgreSQL"
    from_port   = 0
    to_port     = 65535
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  tags = var.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_272:Code signing applies to zip packages only; the function runs an ECR image from the immutable-tag, scan-on-push repository of the registry module.
  function_name = local.function_name
  role          = aws_iam_role.function.arn
  package_type  = "Image"
  image_uri     = var.image_uri
  timeout       = var.timeout_s
  memory_size   = var.memory_mib
  kms_key_arn   = module.kms.arn

  # The notification-service image itself: it carries the AWS Lambda runtime interface
  # client (awslambdaric), which serves the handler in place of the HTTP server.
  image_config {
    entry_point = ["python", "-m", "awslambdaric"]
    command     = ["notification_service.lambda_handler.handler"]
  }

  reserved_concurrent_executions = var.reserved_concurrency

  # Where the secrets are, never the secrets themselves (lambda_handler reads them).
  environment {
    variables = merge(var.environment_variables, {
      TASKPLANE_LAMBDA_DATABASE_SECRET_ARN = var.database_secret_arn
      TASKPLANE_LAMBDA_DATABASE_HOST       = var.database_host
      TASKPLANE_LAMBDA_DATABASE_PORT       = tostring(var.database_port)
      TASKPLANE_LAMBDA_DATABASE_NAME       = var.database_name
      TASKPLANE_LAMBDA_KEK_SECRET_ARN      = var.kek_secret_arn
      TASKPLANE_LAMBDA_SETTINGS_SECRET_ARN = aws_secretsmanager_secret.settings.arn
    })
  }

  vpc_config {
    subnet_ids         = var.network.private_subnet_ids
    security_group_ids = concat([aws_security_group.function.id], var.extra_security_group_ids)
  }

  dead_letter_config {
    target_arn = aws_sqs_queue.dead_letter.arn
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.function.name
  }

  depends_on = [aws_iam_role_policy.function, aws_iam_role_policy_attachment.vpc]

  tags = var.tags
}

# SNS invokes asynchronously: Lambda retries a raising invocation, then hands the
# event to the dead-letter queue.
resource "aws_lambda_function_event_invoke_config" "this" {
  function_name                = aws_lambda_function.this.function_name
  maximum_retry_attempts       = var.failed_events.maximum_retry_attempts
  maximum_event_age_in_seconds = var.failed_events.maximum_event_age_s

  destination_config {
    on_failure {
      destination = aws_sqs_queue.dead_letter.arn
    }
  }
}

resource "aws_lambda_permission" "sns" {
  statement_id  = "AllowInvokeFromTaskEventsTopic"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
  principal     = "sns.amazonaws.com"
  source_arn    = aws_sns_topic.events.arn
}

resource "aws_sns_topic_subscription" "function" {
  topic_arn = aws_sns_topic.events.arn
  protocol  = "lambda"
  endpoint  = aws_lambda_function.this.arn

  depends_on = [aws_lambda_permission.sns]
}

################################################################################
# Publisher policy for the relay (attach to the notification-service's role)
################################################################################

data "aws_iam_policy_document" "publish" {
  statement {
    sid       = "PublishTaskEvents"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.events.arn]
  }

  statement {
    sid       = "EncryptForTheTopic"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [module.kms.arn]
  }
}

resource "aws_iam_policy" "publish" {
  name_prefix = "${local.function_name}-publish-"
  description = "Publish task events to ${aws_sns_topic.events.name}"
  policy      = data.aws_iam_policy_document.publish.json

  tags = var.tags
}

################################################################################
# Alarms
################################################################################

resource "aws_cloudwatch_metric_alarm" "errors" {
  alarm_name          = "${local.function_name}-errors"
  alarm_description   = "The notifications function raised: deliveries are being retried or dead-lettered."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.this.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.error_alarm_threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  alarm_name          = "${local.function_name}-dead-letters"
  alarm_description   = "Events in the notifications dead-letter queue: they were not delivered after every retry."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dead_letter.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions

  tags = var.tags
}
