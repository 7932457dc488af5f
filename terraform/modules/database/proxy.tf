# RDS Proxy in front of the instance (var.proxy_enabled, off by default).
#
# Clients hold many idle pooled connections (a pool of 10 + 10 per service pod, times
# each autoscaler's maxReplicas: the chart's connection budget); the proxy multiplexes
# them onto at most max_connections_percent of the instance's max_connections, one
# database connection per running transaction. It authenticates with the RDS-managed
# master user secret (the same credentials as DATABASE_URL) and requires TLS.
#
# A client session that leaves state on its connection is pinned to one database
# connection until it disconnects, which gains nothing: server-side prepared statements
# (psycopg prepares a statement text after its fifth run; the task-service's queue engine
# prepares every one), LISTEN (the task-service's long-poll wake-ups), session advisory
# locks (the migrations) and SET. The task-service and the migrations therefore use the
# instance endpoint (`address`); the auth-, user- and notification-service can use
# `proxy_endpoint` (docs/operations.md, "Capacity").

module "proxy_trust" {
  source = "../service_trust_policy"
  count  = var.proxy_enabled ? 1 : 0

  service = "rds.amazonaws.com"
  sid     = "RdsProxyAssumesRole"
}

data "aws_iam_policy_document" "proxy_secret" {
  count = var.proxy_enabled ? 1 : 0

  statement {
    sid       = "ReadMasterUserSecret"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = [module.db.db_instance_master_user_secret_arn]
  }

  statement {
    sid       = "DecryptMasterUserSecret"
    actions   = ["kms:Decrypt"]
    resources = [module.kms.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${data.aws_region.current.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "proxy" {
  count = var.proxy_enabled ? 1 : 0

  name               = "${local.identifier}-proxy"
  description        = "RDS Proxy ${local.identifier}-proxy: reads the master user secret"
  assume_role_policy = module.proxy_trust[0].json

  tags = var.tags
}

resource "aws_iam_role_policy" "proxy" {
  count = var.proxy_enabled ? 1 : 0

  name   = "read-master-user-secret"
  role   = aws_iam_role.proxy[0].id
  policy = data.aws_iam_policy_document.proxy_secret[0].json
}

resource "aws_security_group" "proxy" {
  count = var.proxy_enabled ? 1 : 0

  #checkov:skip=CKV2_AWS_5:Attached to the RDS Proxy below (vpc_security_group_ids); checkov does not see attachments of counted resources.
  name_prefix = "${local.identifier}-proxy-"
  description = "RDS Proxy ${local.identifier}: ingress from the database clients, egress to the instance only"
  vpc_id      = var.network.vpc_id

  tags = merge(var.tags, { Name = "${local.identifier}-proxy" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "proxy" {
  for_each = var.proxy_enabled ? var.allowed_security_groups : {}

  security_group_id            = aws_security_group.proxy[0].id
  description                  = "PostgreSQL through the proxy from ${each.key}"
  ip_protocol                  = "tcp"
  from_port                    = local.port
  to_port                      = local.port
  referenced_security_group_id = each.value

  tags = var.tags
}

resource "aws_vpc_security_group_egress_rule" "proxy_to_instance" {
  count = var.proxy_enabled ? 1 : 0

  security_group_id            = aws_security_group.proxy[0].id
  description                  = "PostgreSQL to the instance"
  ip_protocol                  = "tcp"
  from_port                    = local.port
  to_port                      = local.port
  referenced_security_group_id = aws_security_group.this.id

  tags = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "postgres_from_proxy" {
  count = var.proxy_enabled ? 1 : 0

  security_group_id            = aws_security_group.this.id
  description                  = "PostgreSQL from the RDS Proxy"
  ip_protocol                  = "tcp"
  from_port                    = local.port
  to_port                      = local.port
  referenced_security_group_id = aws_security_group.proxy[0].id

  tags = var.tags
}

resource "aws_db_proxy" "this" {
  count = var.proxy_enabled ? 1 : 0

  name                   = "${local.identifier}-proxy"
  engine_family          = "POSTGRESQL"
  role_arn               = aws_iam_role.proxy[0].arn
  vpc_subnet_ids         = var.network.database_subnet_ids
  vpc_security_group_ids = [aws_security_group.proxy[0].id]
  require_tls            = true
  idle_client_timeout    = var.proxy_idle_client_timeout_s
  debug_logging          = false

  auth {
    auth_scheme               = "SECRETS"
    client_password_auth_type = "POSTGRES_SCRAM_SHA_256"
    iam_auth                  = "DISABLED"
    secret_arn                = module.db.db_instance_master_user_secret_arn
    description               = "RDS-managed master user secret (the credentials of DATABASE_URL)"
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.proxy]
}

resource "aws_db_proxy_default_target_group" "this" {
  count = var.proxy_enabled ? 1 : 0

  db_proxy_name = aws_db_proxy.this[0].name

  connection_pool_config {
    max_connections_percent      = var.proxy_max_connections_percent
    max_idle_connections_percent = floor(var.proxy_max_connections_percent / 2)
    # A client waits this long for a database connection before its query fails; the
    # services' own pool wait (TASKPLANE_DB_POOL_TIMEOUT_S, 5 s) answers 503 first.
    connection_borrow_timeout = 30
  }
}

resource "aws_db_proxy_target" "this" {
  count = var.proxy_enabled ? 1 : 0

  db_proxy_name          = aws_db_proxy.this[0].name
  target_group_name      = aws_db_proxy_default_target_group.this[0].name
  db_instance_identifier = module.db.db_instance_identifier
}
