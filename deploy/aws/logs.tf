resource "aws_cloudwatch_log_group" "host" {
  name              = "/${var.name}/host"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
}

resource "aws_cloudwatch_log_group" "snowbridge" {
  name              = "/${var.name}/snowbridge"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
}

resource "aws_cloudwatch_log_group" "kafka_admin" {
  name              = "/${var.name}/kafka-admin"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
}

resource "aws_cloudwatch_log_group" "msk" {
  count             = var.create_msk ? 1 : 0
  name              = "/${var.name}/msk-brokers"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
}
