# The host's bearer tokens, made here and kept in Secrets Manager: the tasks get them as
# secrets (never in plain environment variables of the task definition). Read the admin token
# for `liveviewer module push` with:
#   aws secretsmanager get-secret-value --secret-id <output admin_token_secret_arn> --query SecretString --output text
# They are in the Terraform state too: keep the state encrypted (README.md).

resource "random_password" "token" {
  for_each = toset(["admin", "ingest"])
  length   = 48
  special  = false
}

resource "aws_secretsmanager_secret" "token" {
  for_each                = toset(["admin", "ingest"])
  name                    = "${var.name}/${each.key}-token"
  description             = "${var.name}: bearer token of the hosts' ${each.key} endpoints"
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = 7
  #checkov:skip=CKV2_AWS_57:A bearer token shared by the hosts and their callers; rotate it by writing a new value and redeploying the service (README.md), not with a rotation Lambda.
}

resource "aws_secretsmanager_secret_version" "token" {
  for_each      = toset(["admin", "ingest"])
  secret_id     = aws_secretsmanager_secret.token[each.key].id
  secret_string = random_password.token[each.key].result
}
