# Security groups. Only the load balancer takes traffic from outside the deployment, on 443
# from dashboard_allowed_cidrs (and on 80, to redirect to 443). The hosts take 8686 from the
# load balancer only; Snowbridge takes nothing; the brokers take the Kafka TLS listeners from
# the tasks only.

resource "aws_security_group" "alb" {
  name        = "${var.name}-alb"
  description = "${var.name} dashboard load balancer"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  for_each          = toset(var.dashboard_allowed_cidrs)
  security_group_id = aws_security_group.alb.id
  description       = "Dashboard, API and admin over HTTPS"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_ingress_rule" "alb_http" {
  for_each          = toset(var.dashboard_allowed_cidrs)
  security_group_id = aws_security_group.alb.id
  description       = "Redirect to HTTPS"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_egress_rule" "alb_to_hosts" {
  security_group_id            = aws_security_group.alb.id
  description                  = "To the hosts' HTTP port"
  ip_protocol                  = "tcp"
  from_port                    = 8686
  to_port                      = 8686
  referenced_security_group_id = aws_security_group.host.id
}

resource "aws_security_group" "host" {
  name        = "${var.name}-host"
  description = "${var.name} hosts (ECS tasks)"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "host_from_alb" {
  security_group_id            = aws_security_group.host.id
  description                  = "HTTP from the load balancer only"
  ip_protocol                  = "tcp"
  from_port                    = 8686
  to_port                      = 8686
  referenced_security_group_id = aws_security_group.alb.id
}

resource "aws_security_group" "snowbridge" {
  name        = "${var.name}-snowbridge"
  description = "${var.name} Snowbridge (ECS tasks); no ingress"
  vpc_id      = var.vpc_id
}

# Both kinds of task reach the AWS APIs (ECR, CloudWatch Logs, Secrets Manager, DynamoDB, STS)
# over HTTPS, through a NAT gateway or VPC endpoints, and the brokers over their TLS listeners.
resource "aws_vpc_security_group_egress_rule" "tasks_https" {
  for_each          = { host = aws_security_group.host.id, snowbridge = aws_security_group.snowbridge.id }
  security_group_id = each.value
  description       = "AWS APIs over HTTPS"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "tasks_kafka" {
  for_each          = { host = aws_security_group.host.id, snowbridge = aws_security_group.snowbridge.id }
  security_group_id = each.value
  description       = "Kafka TLS listeners (9094 TLS, 9096 SASL/SCRAM, 9098 IAM)"
  ip_protocol       = "tcp"
  from_port         = 9094
  to_port           = 9098
  cidr_ipv4         = data.aws_vpc.this.cidr_block
}

data "aws_vpc" "this" {
  id = var.vpc_id
}

resource "aws_security_group" "kafka" {
  count       = var.create_msk ? 1 : 0
  name        = "${var.name}-kafka"
  description = "${var.name} MSK brokers"
  vpc_id      = var.vpc_id
}

locals {
  kafka_sg = var.create_msk ? aws_security_group.kafka[0].id : var.kafka_security_group_id
  kafka_clients = var.create_msk || var.kafka_security_group_id != "" ? {
    host = aws_security_group.host.id, snowbridge = aws_security_group.snowbridge.id
  } : {}
}

resource "aws_vpc_security_group_ingress_rule" "kafka_from_tasks" {
  for_each                     = local.kafka_clients
  security_group_id            = local.kafka_sg
  description                  = "Kafka TLS listeners from the ${each.key} tasks"
  ip_protocol                  = "tcp"
  from_port                    = 9094
  to_port                      = 9098
  referenced_security_group_id = each.value
}
