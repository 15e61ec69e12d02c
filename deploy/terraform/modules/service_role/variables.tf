variable "name" {
  type        = string
  description = "Name of the IAM role."
}

variable "oidc_provider_arn" {
  type        = string
  description = "ARN of the EKS cluster's IAM OIDC provider."
}

variable "oidc_issuer" {
  type        = string
  description = "Issuer of the cluster's service account tokens, without https://."
}

variable "namespace" {
  type        = string
  description = "Kubernetes namespace of the service account."
}

variable "service_account" {
  type        = string
  description = "Name of the Kubernetes service account that may assume the role (the chart's)."
}

variable "backup_bucket_arn" {
  type        = string
  description = "ARN of the backup bucket the role may list, read and write."
}

variable "backup_kms_key_arn" {
  type        = string
  description = "ARN of the KMS key of the backup bucket."
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
}
