# Runs in .github/workflows/terraform.yml (`terraform test`), not offline: it needs
# the provider registry for init. The providers are mocked: nothing reaches AWS.

mock_provider "aws" {
  source = "../../mocks/aws"
}

mock_provider "kubernetes" {}

mock_provider "helm" {}

variables {
  image_registry          = "000000000000.dkr.ecr.mock-region-1.amazonaws.com"
  image_repository_prefix = "tp-test"
  image_tag               = "1.0.0"
  database_host           = "tp-test.mock.rds.amazonaws.com"
  database_name           = "taskplane"
  secret_arns = {
    database         = "arn:aws:secretsmanager:mock-region-1:000000000000:secret:rds-abc"
    platform         = "arn:aws:secretsmanager:mock-region-1:000000000000:secret:tp-test/platform-abc"
    notification_kek = "arn:aws:secretsmanager:mock-region-1:000000000000:secret:tp-test/notification-kek-abc"
  }
  kubernetes_issuer_url = "https://oidc.eks.mock-region-1.amazonaws.com/id/0000"
  bootstrap_admin_email = "admin@example.com"
}

run "restricted_pod_security_without_observability" {
  command = plan

  variables {
    observability_enabled = false
  }

  assert {
    condition     = kubernetes_namespace_v1.taskplane.metadata[0].labels["pod-security.kubernetes.io/enforce"] == "restricted"
    error_message = "without node-exporter the namespace enforces restricted"
  }
}

run "rejects_the_latest_tag" {
  command = plan

  variables {
    image_tag = "latest"
  }

  expect_failures = [var.image_tag]
}

run "rejects_a_registry_with_a_scheme" {
  command = plan

  variables {
    image_registry = "https://registry.example"
  }

  expect_failures = [var.image_registry]
}

run "rejects_a_plain_http_issuer" {
  command = plan

  variables {
    kubernetes_issuer_url = "http://oidc.example"
  }

  expect_failures = [var.kubernetes_issuer_url]
}

run "rejects_a_secret_that_is_not_in_secrets_manager" {
  command = plan

  variables {
    secret_arns = {
      database         = "arn:aws:secretsmanager:mock-region-1:000000000000:secret:rds-abc"
      platform         = "arn:aws:ssm:mock-region-1:000000000000:parameter/tp-test/platform"
      notification_kek = "arn:aws:secretsmanager:mock-region-1:000000000000:secret:tp-test/notification-kek-abc"
    }
  }

  expect_failures = [var.secret_arns]
}
