output "role_arn" {
  description = "ARN of the role: the GitHub environment's variable AWS_DEPLOY_ROLE_ARN."
  value       = aws_iam_role.this.arn
}
