output "dashboard_url" {
  description = "The dashboard (point your certificate's domain at the load balancer's DNS name)."
  value       = "https://${aws_lb.dashboard.dns_name}"
}

output "load_balancer_dns_name" {
  description = "DNS name of the load balancer (CNAME or alias your dashboard domain to it)."
  value       = aws_lb.dashboard.dns_name
}

output "ecr_repositories" {
  description = "Where to push the host and Snowbridge images."
  value       = { for k, r in aws_ecr_repository.image : k => r.repository_url }
}

output "admin_token_secret_arn" {
  description = "Secret holding the admin bearer token (module push, rollback)."
  value       = aws_secretsmanager_secret.token["admin"].arn
}

output "ingest_token_secret_arn" {
  description = "Secret holding the ingest bearer token (POST /ingest/snowbridge)."
  value       = aws_secretsmanager_secret.token["ingest"].arn
}

output "kafka_bootstrap_brokers_scram" {
  description = "TLS + SASL/SCRAM bootstrap servers (Snowbridge; point enrich here when the cluster is new)."
  value       = local.scram_brokers
}

output "kafka_bootstrap_brokers_iam" {
  description = "TLS + IAM bootstrap servers (the hosts with host_kafka_auth = iam)."
  value       = var.host_kafka_auth == "iam" ? local.iam_brokers : ""
}

output "scram_secret_arn" {
  description = "Secret with the SCRAM user's username and password."
  value       = local.scram_secret_arn
}

output "dynamodb_tables" {
  description = "The profiles and status history tables."
  value       = { profiles = aws_dynamodb_table.profiles.name, history = aws_dynamodb_table.history.name }
}

output "kafka_admin_run_task" {
  description = "Creates the topics (idempotent): run once after apply, before the services can consume."
  value = join(" ", [
    "aws ecs run-task --region ${var.region} --cluster ${aws_ecs_cluster.this.name}",
    "--launch-type FARGATE --task-definition ${aws_ecs_task_definition.kafka_admin.family}",
    "--network-configuration 'awsvpcConfiguration={subnets=[${join(",", var.private_subnet_ids)}],securityGroups=[${aws_security_group.snowbridge.id}],assignPublicIp=DISABLED}'",
  ])
}
