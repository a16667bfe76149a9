# The Kafka cluster (create_msk = true): TLS between clients and brokers and between brokers,
# SASL/SCRAM-SHA-512 for Snowbridge (and the hosts by default), IAM for the hosts as an option,
# no unauthenticated access, no public access, storage encrypted with the deployment's key,
# broker logs in CloudWatch.

resource "aws_msk_configuration" "this" {
  count          = var.create_msk ? 1 : 0
  name           = "${var.name}-kafka"
  kafka_versions = [var.msk_kafka_version]

  # Topics are created on purpose (the kafka-admin task, or the hosts for their compacted
  # topics), so a typo in a topic name fails instead of creating a stray topic. Three brokers:
  # every topic is replicated three times and a write waits for two.
  server_properties = <<-PROPERTIES
    auto.create.topics.enable=false
    default.replication.factor=${min(3, length(var.private_subnet_ids))}
    min.insync.replicas=${min(2, length(var.private_subnet_ids))}
  PROPERTIES
}

resource "aws_msk_cluster" "this" {
  count                  = var.create_msk ? 1 : 0
  cluster_name           = "${var.name}-kafka"
  kafka_version          = var.msk_kafka_version
  number_of_broker_nodes = length(var.private_subnet_ids)

  broker_node_group_info {
    instance_type   = var.msk_broker_instance_type
    client_subnets  = var.private_subnet_ids
    security_groups = [aws_security_group.kafka[0].id]

    storage_info {
      ebs_storage_info {
        volume_size = var.msk_broker_volume_gb
      }
    }

    connectivity_info {
      public_access {
        type = "DISABLED"
      }
    }
  }

  configuration_info {
    arn      = aws_msk_configuration.this[0].arn
    revision = aws_msk_configuration.this[0].latest_revision
  }

  client_authentication {
    unauthenticated = false
    sasl {
      scram = true
      iam   = var.host_kafka_auth == "iam"
    }
  }

  encryption_info {
    encryption_at_rest_kms_key_arn = aws_kms_key.this.arn
    encryption_in_transit {
      client_broker = "TLS"
      in_cluster    = true
    }
  }

  logging_info {
    broker_logs {
      cloudwatch_logs {
        enabled   = true
        log_group = aws_cloudwatch_log_group.msk[0].name
      }
    }
  }
}

# The SCRAM user. MSK reads SCRAM credentials only from secrets named AmazonMSK_* and encrypted
# with a customer-managed key.
resource "random_password" "scram" {
  count   = var.create_msk ? 1 : 0
  length  = 40
  special = false
}

resource "aws_secretsmanager_secret" "scram" {
  count                   = var.create_msk ? 1 : 0
  name                    = "AmazonMSK_${var.name}_snowbridge"
  description             = "SASL/SCRAM user of ${var.name}'s Snowbridge (and of the hosts unless they use IAM)"
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = 7
  #checkov:skip=CKV2_AWS_57:MSK SCRAM credentials have no managed rotation; rotate by writing a new password here (MSK picks it up) and restarting the tasks (README.md).
}

resource "aws_secretsmanager_secret_version" "scram" {
  count         = var.create_msk ? 1 : 0
  secret_id     = aws_secretsmanager_secret.scram[0].id
  secret_string = jsonencode({ username = "snowbridge", password = random_password.scram[0].result })
}

resource "aws_msk_scram_secret_association" "this" {
  count           = var.create_msk ? 1 : 0
  cluster_arn     = aws_msk_cluster.this[0].arn
  secret_arn_list = [aws_secretsmanager_secret.scram[0].arn]
  depends_on      = [aws_secretsmanager_secret_version.scram]
}
