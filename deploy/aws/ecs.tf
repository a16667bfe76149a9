resource "aws_ecs_cluster" "this" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

locals {
  scram_env_secrets = [
    { name = "SASL_USERNAME", valueFrom = "${local.scram_secret_arn}:username::" },
    { name = "SASL_PASSWORD", valueFrom = "${local.scram_secret_arn}:password::" },
  ]

  # The host's configuration: the environment overrides of its config (LIVEVIEWER__SECTION__KEY).
  host_environment = concat([
    { name = "AWS_REGION", value = var.region },
    { name = "LIVEVIEWER__HTTP__LISTEN", value = "0.0.0.0:8686" },
    { name = "LIVEVIEWER__SOURCE__KIND", value = "kafka" },
    { name = "LIVEVIEWER__SOURCE__KAFKA__BROKERS", value = local.host_brokers },
    { name = "LIVEVIEWER__SOURCE__KAFKA__TOPIC", value = var.media_topic },
    { name = "LIVEVIEWER__SOURCE__KAFKA__GROUP_ID", value = var.consumer_group },
    { name = "LIVEVIEWER__SOURCE__KAFKA__DEAD_LETTER_TOPIC", value = local.dead_letter_topic },
    { name = "LIVEVIEWER__SOURCE__KAFKA__CHANGELOG_TOPIC", value = var.changelog_topic },
    { name = "LIVEVIEWER__SOURCE__KAFKA__MODULES_TOPIC", value = var.modules_topic },
    # TLS to MSK with the system trust store (the image carries ca-certificates).
    { name = "LIVEVIEWER__SOURCE__KAFKA__SECURITY_PROTOCOL", value = "sasl_ssl" },
    { name = "LIVEVIEWER__SOURCE__KAFKA__SASL__MECHANISM", value = var.host_kafka_auth == "iam" ? "AWS_MSK_IAM" : "SCRAM-SHA-512" },
    { name = "LIVEVIEWER__STORE__KIND", value = "dynamodb" },
    { name = "LIVEVIEWER__STORE__DYNAMODB__REGION", value = var.region },
    { name = "LIVEVIEWER__STORE__DYNAMODB__PROFILES_TABLE", value = aws_dynamodb_table.profiles.name },
    { name = "LIVEVIEWER__STORE__DYNAMODB__HISTORY_TABLE", value = aws_dynamodb_table.history.name },
    { name = "LIVEVIEWER__STORE__DYNAMODB__CREATE_TABLES", value = "false" },
    { name = "LIVEVIEWER__STORE__DYNAMODB__PROFILE_TTL_DAYS", value = tostring(var.profile_ttl_days) },
    { name = "LIVEVIEWER__STORE__DYNAMODB__HISTORY_TTL_DAYS", value = tostring(var.history_ttl_days) },
    { name = "LIVEVIEWER_LOG", value = "info" },
  ])

  host_secrets = concat([
    { name = "LIVEVIEWER_ADMIN_TOKEN", valueFrom = aws_secretsmanager_secret.token["admin"].arn },
    { name = "LIVEVIEWER__HTTP__INGEST_TOKEN", valueFrom = aws_secretsmanager_secret.token["ingest"].arn },
    ], var.host_kafka_auth == "scram" ? [
    { name = "LIVEVIEWER__SOURCE__KAFKA__SASL__USERNAME", valueFrom = "${local.scram_secret_arn}:username::" },
    { name = "LIVEVIEWER__SOURCE__KAFKA__SASL__PASSWORD", valueFrom = "${local.scram_secret_arn}:password::" },
  ] : [])
}

# The host: N tasks in the consumer group, behind the load balancer. The root file system is
# read-only; data_dir (the kept module, the embedded store's files) is task storage.
resource "aws_ecs_task_definition" "host" {
  family                   = "${var.name}-host"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.host_cpu
  memory                   = var.host_memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.host.arn

  volume {
    name = "data"
  }

  container_definitions = jsonencode([{
    name                   = "host"
    image                  = var.host_image
    essential              = true
    readonlyRootFilesystem = true
    portMappings           = [{ containerPort = 8686, protocol = "tcp" }]
    environment            = local.host_environment
    secrets                = local.host_secrets
    mountPoints            = [{ sourceVolume = "data", containerPath = "/var/lib/liveviewer" }]
    healthCheck = {
      command     = ["CMD", "liveviewer", "healthcheck", "http://127.0.0.1:8686/healthz"]
      interval    = 10
      timeout     = 3
      retries     = 3
      startPeriod = 30
    }
    # SIGTERM finishes the in-flight batch and commits before the host exits.
    stopTimeout = 60
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.host.name
        awslogs-region        = var.region
        awslogs-stream-prefix = "host"
      }
    }
  }])
}

resource "aws_ecs_service" "host" {
  name                               = "${var.name}-host"
  cluster                            = aws_ecs_cluster.this.id
  task_definition                    = aws_ecs_task_definition.host.arn
  desired_count                      = var.host_count
  launch_type                        = "FARGATE"
  health_check_grace_period_seconds  = 60
  deployment_minimum_healthy_percent = 50
  deployment_maximum_percent         = 200
  enable_execute_command             = false

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.host.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.host.arn
    container_name   = "host"
    container_port   = 8686
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  depends_on = [aws_lb_listener.https]
}

# Snowbridge: reads the enriched topic, keeps media events, keys them by viewer and writes the
# media topic, with the project's config (docker/snowbridge/config.hcl, baked into the image)
# set through its environment.
resource "aws_ecs_task_definition" "snowbridge" {
  family                   = "${var.name}-snowbridge"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.snowbridge_cpu
  memory                   = var.snowbridge_memory
  execution_role_arn       = aws_iam_role.execution.arn

  container_definitions = jsonencode([{
    name                   = "snowbridge"
    image                  = var.snowbridge_image
    essential              = true
    readonlyRootFilesystem = true
    environment = [
      { name = "ACCEPT_LIMITED_USE_LICENSE", value = "yes" },
      { name = "SNOWBRIDGE_KAFKA_BROKERS", value = local.scram_brokers },
      { name = "SNOWBRIDGE_KAFKA_TLS", value = "true" },
      { name = "SNOWBRIDGE_INPUT_TOPIC", value = var.enriched_topic },
      { name = "SNOWBRIDGE_OUTPUT_TOPIC", value = var.media_topic },
      { name = "SNOWBRIDGE_FAILURE_TOPIC", value = var.snowbridge_failure_topic },
    ]
    secrets = [
      { name = "SNOWBRIDGE_KAFKA_SASL_USERNAME", valueFrom = "${local.scram_secret_arn}:username::" },
      { name = "SNOWBRIDGE_KAFKA_SASL_PASSWORD", valueFrom = "${local.scram_secret_arn}:password::" },
    ]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.snowbridge.name
        awslogs-region        = var.region
        awslogs-stream-prefix = "snowbridge"
      }
    }
  }])
}

resource "aws_ecs_service" "snowbridge" {
  name                   = "${var.name}-snowbridge"
  cluster                = aws_ecs_cluster.this.id
  task_definition        = aws_ecs_task_definition.snowbridge.arn
  desired_count          = var.snowbridge_count
  launch_type            = "FARGATE"
  enable_execute_command = false

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.snowbridge.id]
    assign_public_ip = false
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
}

# A one-off task (no service) that creates the topics, run once after the cluster exists and
# whenever a topic is added: `aws ecs run-task` with the output kafka_admin_run_task. It uses
# Kafka's own command-line tools over the SCRAM listener.
locals {
  topics = [
    "${var.enriched_topic} ${var.media_topic_partitions}",
    "${var.media_topic} ${var.media_topic_partitions}",
    "${local.dead_letter_topic} 1 --config retention.ms=1209600000",
    "${var.snowbridge_failure_topic} 1 --config retention.ms=1209600000",
    "${var.changelog_topic} ${var.media_topic_partitions} --config cleanup.policy=compact",
    "${var.modules_topic} 1 --config cleanup.policy=compact",
  ]
  create_topics = join("\n", concat([
    "set -eu",
    "printf 'security.protocol=SASL_SSL\\nsasl.mechanism=SCRAM-SHA-512\\nsasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"%s\" password=\"%s\";\\n' \"$SASL_USERNAME\" \"$SASL_PASSWORD\" > /tmp/client.properties",
    ], [for t in local.topics :
    "/opt/kafka/bin/kafka-topics.sh --bootstrap-server \"$BROKERS\" --command-config /tmp/client.properties --create --if-not-exists --topic ${t}"
    ], [
    "/opt/kafka/bin/kafka-topics.sh --bootstrap-server \"$BROKERS\" --command-config /tmp/client.properties --describe --topic ${var.media_topic}",
  ]))
}

resource "aws_ecs_task_definition" "kafka_admin" {
  family                   = "${var.name}-kafka-admin"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 512
  memory                   = 1024
  execution_role_arn       = aws_iam_role.execution.arn

  volume {
    name = "tmp"
  }

  container_definitions = jsonencode([{
    name                   = "kafka-admin"
    image                  = var.kafka_tools_image
    essential              = true
    readonlyRootFilesystem = true
    entryPoint             = ["/bin/sh", "-c"]
    command                = [local.create_topics]
    # The tools' scripts make their log directory first: keep it on the writable volume.
    environment = [{ name = "BROKERS", value = local.scram_brokers }, { name = "LOG_DIR", value = "/tmp/kafka-logs" }]
    secrets     = local.scram_env_secrets
    mountPoints = [{ sourceVolume = "tmp", containerPath = "/tmp" }]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.kafka_admin.name
        awslogs-region        = var.region
        awslogs-stream-prefix = "kafka-admin"
      }
    }
  }])
}
