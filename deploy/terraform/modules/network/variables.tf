variable "name" {
  type        = string
  description = "Name prefix of every resource (e.g. membank-production)."
}

variable "cidr_block" {
  type        = string
  description = "IPv4 CIDR of the VPC; split into three public and three private subnets."
}

variable "availability_zones" {
  type        = list(string)
  description = "The three availability zones the subnets are spread over."

  validation {
    condition     = length(var.availability_zones) == 3
    error_message = "Give exactly three availability zones."
  }
}

variable "single_nat_gateway" {
  type        = bool
  description = "One NAT gateway for all private subnets (cheaper, but one zone's outage cuts the others' egress) instead of one per zone."
}

variable "cluster_name" {
  type        = string
  description = "EKS cluster name, tagged on the subnets so its load balancers find them."
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
}
