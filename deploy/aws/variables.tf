# Every input of the deployment. Required ones have no default; README.md ("Deploy on AWS")
# shows a terraform.tfvars with them.

variable "name" {
  description = "Prefix of every resource name (ECS cluster and services, tables, cluster, roles)."
  type        = string
  default     = "liveviewer"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name))
    error_message = "name: 2 to 31 lower-case letters, digits or dashes, starting with a letter."
  }
}

variable "region" {
  description = "AWS region of everything here."
  type        = string
}

variable "tags" {
  description = "Extra tags on every resource."
  type        = map(string)
  default     = {}
}

# --- network: an existing VPC -----------------------------------------------------------

variable "vpc_id" {
  description = "The VPC to deploy into."
  type        = string
}

variable "public_subnet_ids" {
  description = "Subnets of the dashboard's load balancer (public ones for an internet-facing ALB), in at least two availability zones."
  type        = list(string)
}

variable "private_subnet_ids" {
  description = "Subnets of the ECS tasks and the MSK brokers (one broker per subnet: 2 or 3 subnets in different zones). They need a route to the AWS APIs (NAT gateway or VPC endpoints for ECR, CloudWatch Logs, Secrets Manager, DynamoDB, STS)."
  type        = list(string)
}

variable "dashboard_allowed_cidrs" {
  description = "Who may reach the dashboard, the API and the admin endpoints through the load balancer (HTTPS). The dashboard has no login of its own: an office or VPN range, not 0.0.0.0/0."
  type        = list(string)
}

variable "alb_internal" {
  description = "true: an internal load balancer (reached over VPN or peering) instead of an internet-facing one."
  type        = bool
  default     = false
}

variable "certificate_arn" {
  description = "ACM certificate of the dashboard's HTTPS listener (its domain points at the ALB)."
  type        = string
}

variable "deletion_protection" {
  description = "Deletion protection on the load balancer and the DynamoDB tables. Set false only to tear a test deployment down."
  type        = bool
  default     = true
}

# --- images ------------------------------------------------------------------------------

variable "host_image" {
  description = "The liveviewer host image (docker/Dockerfile) in ECR, by tag or digest, e.g. <account>.dkr.ecr.<region>.amazonaws.com/liveviewer/host:0.1.0."
  type        = string
}

variable "snowbridge_image" {
  description = "The project's Snowbridge image (docker/snowbridge/Dockerfile: snowplow/snowbridge 6.x with the project's config and viewer-key script) in ECR."
  type        = string
}

variable "kafka_tools_image" {
  description = "Image of the one-off task that creates the topics (Apache Kafka's command-line tools). Mirror it to ECR if the tasks cannot pull from Docker Hub."
  type        = string
  default     = "apache/kafka:4.4.0"
}

# --- the host ----------------------------------------------------------------------------

variable "host_count" {
  description = "Host tasks (N). Kafka splits the media topic's partitions between them: keep it at most media_topic_partitions."
  type        = number
  default     = 2

  validation {
    condition     = var.host_count >= 1
    error_message = "host_count must be at least 1."
  }
}

variable "host_cpu" {
  description = "CPU units per host task (1024 = 1 vCPU)."
  type        = number
  default     = 1024
}

variable "host_memory" {
  description = "Memory (MiB) per host task."
  type        = number
  default     = 2048
}

variable "consumer_group" {
  description = "Kafka consumer group of the hosts (source.kafka.group_id); every host of the deployment shares it."
  type        = string
  default     = "liveviewer"
}

variable "profile_ttl_days" {
  description = "Profiles not updated for this many days expire (DynamoDB TTL on expires_at; 0: never)."
  type        = number
  default     = 90
}

variable "history_ttl_days" {
  description = "Status history rows expire after this many days (DynamoDB TTL on expires_at; 0: never)."
  type        = number
  default     = 30
}

# --- Snowbridge --------------------------------------------------------------------------

variable "snowbridge_count" {
  description = "Snowbridge tasks; they share the enriched topic's partitions."
  type        = number
  default     = 1
}

variable "snowbridge_cpu" {
  description = "CPU units per Snowbridge task."
  type        = number
  default     = 512
}

variable "snowbridge_memory" {
  description = "Memory (MiB) per Snowbridge task."
  type        = number
  default     = 1024
}

# --- Kafka -------------------------------------------------------------------------------

variable "create_msk" {
  description = "true: create an MSK cluster here. false: use an existing cluster (existing_bootstrap_brokers)."
  type        = bool
  default     = true
}

variable "host_kafka_auth" {
  description = "How the hosts authenticate to MSK: scram (TLS + SASL/SCRAM-SHA-512, the default) or iam (TLS + AWS_MSK_IAM with the task role). Snowbridge always uses SCRAM: its Kafka client has no IAM support, so the cluster keeps SCRAM enabled either way."
  type        = string
  default     = "scram"

  validation {
    condition     = contains(["scram", "iam"], var.host_kafka_auth)
    error_message = "host_kafka_auth must be scram or iam."
  }
}

variable "msk_kafka_version" {
  description = "Kafka version of the MSK cluster."
  type        = string
  default     = "3.9.x"
}

variable "msk_broker_instance_type" {
  description = "MSK broker instance type."
  type        = string
  default     = "kafka.m7g.large"
}

variable "msk_broker_volume_gb" {
  description = "EBS storage per MSK broker (GiB)."
  type        = number
  default     = 100
}

variable "existing_bootstrap_brokers" {
  description = "With create_msk = false: the cluster's TLS + SASL/SCRAM bootstrap servers (host:port,...)."
  type        = string
  default     = ""
}

variable "existing_bootstrap_brokers_iam" {
  description = "With create_msk = false and host_kafka_auth = iam: the cluster's IAM bootstrap servers."
  type        = string
  default     = ""
}

variable "existing_msk_cluster_arn" {
  description = "With create_msk = false and host_kafka_auth = iam: the existing MSK cluster's ARN, to scope the hosts' kafka-cluster permissions."
  type        = string
  default     = ""
}

variable "existing_scram_secret_arn" {
  description = "With create_msk = false: a Secrets Manager secret holding {\"username\": ..., \"password\": ...} of the SCRAM user Snowbridge (and SCRAM hosts) use."
  type        = string
  default     = ""
}

variable "existing_scram_kms_key_arn" {
  description = "With create_msk = false: the KMS key that encrypts existing_scram_secret_arn (empty: the account's default Secrets Manager key)."
  type        = string
  default     = ""
}

variable "kafka_security_group_id" {
  description = "With create_msk = false: a security group of the existing cluster to which this deployment adds ingress rules from its tasks (empty: allow it yourself)."
  type        = string
  default     = ""
}

variable "enriched_topic" {
  description = "The enriched topic enrich writes (Snowbridge's input)."
  type        = string
  default     = "snowplow-enriched-all"
}

variable "media_topic" {
  description = "The topic Snowbridge writes media events to, keyed by viewer, and the hosts read (source.kafka.topic)."
  type        = string
  default     = "snowplow-enriched-good"
}

variable "media_topic_partitions" {
  description = "Partitions of the media topic: the most hosts that can share the work."
  type        = number
  default     = 12
}

variable "snowbridge_failure_topic" {
  description = "Snowbridge's failure target: events it could not process, as bad rows."
  type        = string
  default     = "snowbridge-failed"
}

variable "changelog_topic" {
  description = "Compacted topic over which the hosts share profile changes (source.kafka.changelog_topic)."
  type        = string
  default     = "liveviewer.profiles"
}

variable "modules_topic" {
  description = "Compacted topic over which a module pushed to one host reaches the whole fleet (source.kafka.modules_topic)."
  type        = string
  default     = "liveviewer.modules"
}

# --- logs --------------------------------------------------------------------------------

variable "log_retention_days" {
  description = "Retention of the CloudWatch log groups (ECS tasks, MSK brokers)."
  type        = number
  default     = 365
}
