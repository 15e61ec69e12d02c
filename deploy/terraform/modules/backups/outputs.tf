output "bucket_name" {
  description = "Name of the backup bucket."
  value       = aws_s3_bucket.this.id
}

output "bucket_arn" {
  description = "ARN of the backup bucket."
  value       = aws_s3_bucket.this.arn
}

output "kms_key_arn" {
  description = "KMS key the backups are encrypted with (writers and readers need kms:GenerateDataKey / kms:Decrypt on it)."
  value       = aws_kms_key.this.arn
}
