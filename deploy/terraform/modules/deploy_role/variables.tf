variable "name" {
  type        = string
  description = "Name of the IAM role the deploy and rollback workflows assume."
}

variable "github_repository" {
  type        = string
  description = "GitHub repository (owner/name) whose workflows may assume the role."
}

variable "github_environment" {
  type        = string
  description = "GitHub environment (staging, production) whose jobs may assume the role; jobs outside it may not."
}

variable "github_oidc_provider_arn" {
  type        = string
  description = "ARN of the account's IAM OIDC provider for token.actions.githubusercontent.com (one per account: created by the root module when empty)."
}

variable "cluster_name" {
  type        = string
  description = "EKS cluster the role deploys to."
}

variable "namespace" {
  type        = string
  description = "Kubernetes namespace the role administers (and nothing outside it)."
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
}
