# Repositories for the two images this project builds (README.md: build and push them before
# the services start). Tags are immutable: a deploy names a new tag or a digest.

resource "aws_ecr_repository" "image" {
  for_each             = toset(["host", "snowbridge"])
  name                 = "${var.name}/${each.key}"
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.this.arn
  }
}
