# The dashboard: an Application Load Balancer in front of the host tasks. HTTPS only (HTTP
# redirects), TLS 1.2+, health check on /readyz so that a host receives traffic only once it
# is ready (module loaded, store and Kafka reachable).

resource "aws_lb" "dashboard" {
  name                       = "${var.name}-dashboard"
  load_balancer_type         = "application"
  internal                   = var.alb_internal
  subnets                    = var.public_subnet_ids
  security_groups            = [aws_security_group.alb.id]
  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection
  #checkov:skip=CKV_AWS_91:Access logs need an S3 bucket and its policy for the ELB account of the region; enable them where your organisation keeps ALB logs (README.md).
  #checkov:skip=CKV2_AWS_28:No WAF here: the listener admits only dashboard_allowed_cidrs, and the admin and ingest endpoints need bearer tokens. Attach your organisation's web ACL if it has one.
}

resource "aws_lb_target_group" "host" {
  name        = "${var.name}-host"
  port        = 8686
  protocol    = "HTTP"
  target_type = "ip"
  vpc_id      = var.vpc_id
  #checkov:skip=CKV_AWS_378:TLS ends at the load balancer; from there to the tasks the traffic stays in the VPC, between two security groups that admit only each other, and the host serves plain HTTP.

  # Server-sent events (the dashboard's live updates) keep connections open: let in-flight
  # requests finish quickly on deploys instead of the default five minutes.
  deregistration_delay = 30

  health_check {
    path                = "/readyz"
    port                = "traffic-port"
    protocol            = "HTTP"
    matcher             = "200"
    interval            = 10
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.dashboard.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.host.arn
  }
}

resource "aws_lb_listener" "http_redirect" {
  load_balancer_arn = aws_lb.dashboard.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"
    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }
}
