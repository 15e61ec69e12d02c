variable "bucket_name" {
  type        = string
  description = "Globally unique name of the backup bucket."
}

variable "infrequent_access_after_days" {
  type        = number
  description = "Days after which a backup moves to STANDARD_IA."
}

variable "glacier_after_days" {
  type        = number
  description = "Days after which a backup moves to GLACIER (flexible retrieval: hours to restore)."
}

variable "expire_after_days" {
  type        = number
  description = "Days after which a backup is deleted (its versions are kept noncurrent_expire_after_days longer)."
}

variable "noncurrent_expire_after_days" {
  type        = number
  description = "Days a replaced or deleted backup's old version is kept (the protection against a bad overwrite)."
}

variable "force_destroy" {
  type        = bool
  description = "Let terraform destroy delete a bucket that still holds backups (false in production)."
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
}
