variable "name" {
  type        = string
  description = "EKS cluster name."
}

variable "kubernetes_version" {
  type        = string
  description = "Kubernetes minor version of the control plane and node groups (e.g. 1.33)."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets (one per zone) of the control plane's interfaces and the nodes."
}

variable "public_access_cidrs" {
  type        = list(string)
  description = "CIDRs allowed to reach the public API endpoint; empty = private endpoint only (kubectl from inside the VPC)."
}

variable "node_groups" {
  type = map(object({
    instance_types = list(string)
    capacity_type  = string
    min_size       = number
    max_size       = number
    desired_size   = number
    labels         = map(string)
  }))
  description = "Managed node groups by name (capacity_type ON_DEMAND or SPOT); each spans every subnet, so pods can spread over the zones."
}

variable "log_retention_days" {
  type        = number
  description = "Days the control plane's audit and API logs are kept in CloudWatch."
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
}
