output "topic_arn" {
  description = "ARN of the SNS topic the relay publishes to (the notification-service's TASKPLANE_SNS_TOPIC_ARN)."
  value       = aws_sns_topic.events.arn
}

output "function_name" {
  description = "Name of the notifications Lambda function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the notifications Lambda function."
  value       = aws_lambda_function.this.arn
}

output "dead_letter_queue_url" {
  description = "URL of the SQS dead-letter queue of events not delivered after every retry."
  value       = aws_sqs_queue.dead_letter.url
}

output "dead_letter_queue_arn" {
  description = "ARN of the SQS dead-letter queue."
  value       = aws_sqs_queue.dead_letter.arn
}

output "publish_policy_arn" {
  description = "ARN of the IAM policy that allows publishing to the topic; attach it to the role the relay runs under."
  value       = aws_iam_policy.publish.arn
}

output "log_group_name" {
  description = "CloudWatch log group of the function."
  value       = aws_cloudwatch_log_group.function.name
}

output "security_group_id" {
  description = "Security group of the function; the stack lets it reach PostgreSQL."
  value       = aws_security_group.function.id
}

output "settings_secret_arn" {
  description = "ARN of `<name>/notifications-lambda`, the JSON object of secret TASKPLANE_* settings to fill after install (service token, SMTP password)."
  value       = aws_secretsmanager_secret.settings.arn
}

output "kms_key_arn" {
  description = "ARN of the function's KMS key (topic, dead-letter queue, environment, settings secret, logs)."
  value       = module.kms.arn
}
