# liveviewer on AWS: the host as an ECS Fargate service behind an ALB, Snowbridge as an ECS
# service, DynamoDB tables, and an MSK cluster (or an existing cluster's address).
# Step by step: README.md beside this file.

terraform {
  required_version = ">= 1.6.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = merge({ Application = "liveviewer", Deployment = var.name }, var.tags)
  }
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
