# Platform: the Helm releases that turn the cluster into a running taskplane.
#
#   1. namespace `taskplane` with Pod Security Admission labels
#   2. External Secrets Operator (Pod Identity role from the identity module)
#   3. a small local chart (charts/platform-secrets): a SecretStore and the
#      ExternalSecrets that build the Kubernetes Secrets the chart reads:
#      `taskplane-database` (DATABASE_URL from the RDS-managed secret) and
#      `taskplane-platform` (global.secrets.existingSecret, from the secrets
#      module); no token Secret, the workloads use their ServiceAccount tokens
#   4. the taskplane umbrella chart, observability dependencies included, with
#      the values of taskplane-values.yaml.tftpl
#
# Why External Secrets rather than a kubernetes_secret written by Terraform:
# the RDS-managed password rotates (every 7 days by default) and Terraform
# would write a stale copy, and would keep the password in its state. ESO
# re-reads the secrets every `secret_refresh_interval`, no secret value touches
# Terraform, and only the ESO controller holds AWS credentials (read access to
# exactly these secrets and their keys); the taskplane pods hold none.
#
# Separate releases because a chart cannot ship a CRD in templates and an
# instance of it in the same release; helm_release also avoids kubernetes_manifest's
# need for the CRDs to exist at plan time.

data "aws_region" "current" {}

locals {
  observability = var.observability_enabled

  # The node-exporter of kube-prometheus-stack needs host namespaces and hostPath,
  # which Pod Security "restricted" (and "baseline") forbid; with observability on,
  # the namespace enforces nothing but still warns and audits against "restricted".
  # The taskplane pods themselves meet "restricted" either way.
  pod_security_enforce = local.observability ? "privileged" : "restricted"

  # External Secrets template (Go text/template, rendered by ESO, not by Helm or
  # Terraform): username and password come from the RDS secret's JSON.
  database_url_template = "postgresql://{{ .username | urlquery }}:{{ .password | urlquery }}@${var.database_host}:${var.database_port}/${var.database_name}?sslmode=require"

  # The chart's values contract lives in one file, so the offline test
  # (tests/terraform/test_platform_chart_contract.py) renders the real chart with
  # exactly what Terraform passes. Keep these keys equal to the template's variables.
  taskplane_values = templatefile("${path.module}/taskplane-values.yaml.tftpl", {
    environment             = var.environment
    image_registry          = var.image_registry
    image_repository_prefix = var.image_repository_prefix
    image_tag               = var.image_tag
    database_secret_name    = var.database_secret_name
    platform_secret_name    = var.platform_secret_name
    observability           = local.observability
    notification_settings   = var.notification_settings
    kubernetes_issuer_url   = var.kubernetes_issuer_url
  })
}

resource "kubernetes_namespace_v1" "taskplane" {
  metadata {
    name = var.namespace

    labels = {
      "pod-security.kubernetes.io/enforce" = local.pod_security_enforce
      "pod-security.kubernetes.io/warn"    = "restricted"
      "pod-security.kubernetes.io/audit"   = "restricted"
    }
  }
}

resource "helm_release" "external_secrets" {
  name             = "external-secrets"
  repository       = "https://charts.external-secrets.io"
  chart            = "external-secrets"
  version          = var.external_secrets_chart_version
  namespace        = var.external_secrets_namespace
  create_namespace = true
  atomic           = true
  wait             = true
  timeout          = var.helm_timeout_seconds

  values = [yamlencode({
    installCRDs = true
    serviceAccount = {
      create = true
      name   = var.external_secrets_service_account
    }
  })]
}

resource "helm_release" "platform_secrets" {
  name      = "${var.release_name}-platform-secrets"
  chart     = "${path.module}/charts/platform-secrets"
  namespace = kubernetes_namespace_v1.taskplane.metadata[0].name
  atomic    = true
  wait      = true
  timeout   = var.helm_timeout_seconds

  values = [yamlencode({
    region          = data.aws_region.current.region
    refreshInterval = var.secret_refresh_interval
    database = {
      secretArn        = var.secret_arns.database
      targetSecretName = var.database_secret_name
      urlTemplate      = local.database_url_template
    }
    platform = {
      secretArn                = var.secret_arns.platform
      targetSecretName         = var.platform_secret_name
      bootstrapAdminEmail      = var.bootstrap_admin_email
      notificationKekSecretArn = var.secret_arns.notification_kek
    }
  })]

  depends_on = [helm_release.external_secrets]
}

resource "helm_release" "taskplane" {
  name              = var.release_name
  repository        = var.chart_repository
  chart             = var.chart_repository == null ? var.chart_path : "taskplane"
  version           = var.chart_repository == null ? null : var.chart_version
  dependency_update = var.chart_repository == null
  namespace         = kubernetes_namespace_v1.taskplane.metadata[0].name
  atomic            = true
  wait              = true
  timeout           = var.helm_timeout_seconds

  values = concat([local.taskplane_values], var.extra_values)

  depends_on = [helm_release.platform_secrets]
}
