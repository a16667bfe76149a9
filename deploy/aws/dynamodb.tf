# The host's tables, as store.dynamodb expects them (the hosts run with create_tables = false).
# On-demand capacity, TTL on expires_at (the host writes it from profile_ttl_days and
# history_ttl_days), point-in-time recovery, encrypted with the deployment's key.

resource "aws_dynamodb_table" "profiles" {
  name                        = "${var.name}_profiles"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "viewer_id"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "viewer_id"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.this.arn
  }
}

resource "aws_dynamodb_table" "history" {
  name                        = "${var.name}_status_history"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "viewer_id"
  range_key                   = "at"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "viewer_id"
    type = "S"
  }

  attribute {
    name = "at"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.this.arn
  }
}
