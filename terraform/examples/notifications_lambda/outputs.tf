output "topic_arn" {
  description = "SNS topic the relay publishes task events to."
  value       = module.notifications.topic_arn
}

output "function_name" {
  description = "Name of the notifications function."
  value       = module.notifications.function_name
}

output "dead_letter_queue_url" {
  description = "SQS queue that keeps the events the function could not handle."
  value       = module.notifications.dead_letter_queue_url
}

output "publish_policy_arn" {
  description = "IAM policy that allows publishing to the topic (attach it to the relay's role)."
  value       = module.notifications.publish_policy_arn
}
