locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  dead_letter_topic = "${var.media_topic}.dead-letter"

  # Bootstrap servers and the cluster each client uses.
  scram_brokers = var.create_msk ? aws_msk_cluster.this[0].bootstrap_brokers_sasl_scram : var.existing_bootstrap_brokers
  iam_brokers   = var.create_msk ? aws_msk_cluster.this[0].bootstrap_brokers_sasl_iam : var.existing_bootstrap_brokers_iam
  host_brokers  = var.host_kafka_auth == "iam" ? local.iam_brokers : local.scram_brokers
  cluster_arn   = var.create_msk ? aws_msk_cluster.this[0].arn : var.existing_msk_cluster_arn

  scram_secret_arn = var.create_msk ? aws_secretsmanager_secret.scram[0].arn : var.existing_scram_secret_arn
  scram_secret_kms = var.create_msk ? aws_kms_key.this.arn : var.existing_scram_kms_key_arn

  # IAM resource names of Kafka topics and groups: topic/<cluster name>/<cluster uuid>/<topic>.
  # The cluster ARN is cluster/<name>/<uuid>.
  cluster_path = local.cluster_arn == "" ? "" : join("/", slice(split("/", local.cluster_arn), 1, 3))
  kafka_arn    = "arn:${local.partition}:kafka:${var.region}:${local.account_id}"
}

# One customer-managed key for everything stored here: DynamoDB, the secrets, the logs, MSK.
resource "aws_kms_key" "this" {
  description         = "${var.name}: DynamoDB tables, secrets, logs and MSK storage"
  enable_key_rotation = true
  policy              = data.aws_iam_policy_document.kms.json
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this.key_id
}

data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_111:A key policy's Resource "*" is the key itself; this is the key's own policy, not an identity policy.
  #checkov:skip=CKV_AWS_356:A key policy's Resource "*" is the key itself; this is the key's own policy, not an identity policy.
  #checkov:skip=CKV_AWS_109:The account root administers its key (the default key policy); IAM policies grant the use, and CloudWatch Logs is held to this deployment's log groups by the encryption context.
  # The account administers the key (the default key policy; IAM policies grant the rest).
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
  # CloudWatch Logs encrypts the log groups of this deployment with it.
  statement {
    sid       = "CloudWatchLogs"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${var.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${data.aws_partition.current.partition}:logs:${var.region}:${data.aws_caller_identity.current.account_id}:log-group:/${var.name}/*"]
    }
  }
}
