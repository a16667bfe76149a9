# Roles. The execution role (shared by the tasks) pulls images, writes logs and reads the
# secrets the task definitions name. The host's task role reaches its two DynamoDB tables and,
# with host_kafka_auth = iam, its own topics and group on the cluster; nothing else. Snowbridge
# needs no AWS API (it authenticates to Kafka with SCRAM), so it has no task role.

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "execution" {
  name               = "${var.name}-ecs-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

data "aws_iam_policy_document" "execution_secrets" {
  statement {
    sid       = "ReadTheTasksSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = compact([aws_secretsmanager_secret.token["admin"].arn, aws_secretsmanager_secret.token["ingest"].arn, local.scram_secret_arn])
  }
  statement {
    sid       = "DecryptThem"
    actions   = ["kms:Decrypt"]
    resources = distinct(compact([aws_kms_key.this.arn, local.scram_secret_kms]))
  }
}

resource "aws_iam_role_policy" "execution_secrets" {
  name   = "secrets"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution_secrets.json
}

resource "aws_iam_role" "host" {
  name               = "${var.name}-host"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "host" {
  # What the DynamoDB store does: read and write profiles one by one and in batches, query a
  # viewer's history, check the tables and their TTL at start. No Scan, no table management
  # (create_tables = false).
  statement {
    sid = "ProfilesAndHistory"
    actions = [
      "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
      "dynamodb:BatchWriteItem", "dynamodb:Query", "dynamodb:DescribeTable", "dynamodb:DescribeTimeToLive",
    ]
    resources = [aws_dynamodb_table.profiles.arn, aws_dynamodb_table.history.arn]
  }
  # The tables are encrypted with the deployment's key.
  statement {
    sid       = "TableEncryption"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.this.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["dynamodb.${var.region}.amazonaws.com"]
    }
  }

  dynamic "statement" {
    for_each = var.host_kafka_auth == "iam" ? [1] : []
    content {
      sid       = "KafkaConnect"
      actions   = ["kafka-cluster:Connect"]
      resources = [local.cluster_arn]
    }
  }
  # Read the media topic; read and write the compacted fleet topics; write dead letters.
  dynamic "statement" {
    for_each = var.host_kafka_auth == "iam" ? [1] : []
    content {
      sid     = "KafkaRead"
      actions = ["kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"]
      resources = [for t in [var.media_topic, var.changelog_topic, var.modules_topic] :
      "${local.kafka_arn}:topic/${local.cluster_path}/${t}"]
    }
  }
  dynamic "statement" {
    for_each = var.host_kafka_auth == "iam" ? [1] : []
    content {
      sid     = "KafkaWrite"
      actions = ["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData", "kafka-cluster:CreateTopic"]
      resources = [for t in [local.dead_letter_topic, var.changelog_topic, var.modules_topic] :
      "${local.kafka_arn}:topic/${local.cluster_path}/${t}"]
    }
  }
  # The consumer group, and the groups the host derives from it (the prefix).
  dynamic "statement" {
    for_each = var.host_kafka_auth == "iam" ? [1] : []
    content {
      sid       = "KafkaGroup"
      actions   = ["kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup"]
      resources = ["${local.kafka_arn}:group/${local.cluster_path}/${var.consumer_group}*"]
    }
  }
}

resource "aws_iam_role_policy" "host" {
  name   = "store-and-kafka"
  role   = aws_iam_role.host.id
  policy = data.aws_iam_policy_document.host.json
}
