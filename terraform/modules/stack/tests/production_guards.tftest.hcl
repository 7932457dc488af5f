# Runs in .github/workflows/terraform.yml (`terraform test`), not offline: it needs
# the provider registry for init. The providers are mocked: nothing reaches AWS.
# A production stack refuses settings that are fine in dev (one validation of
# `production` over local.production_guarantees); each run breaks guarantees.

# The shared mock data (policy documents the provider checks as JSON), and the zones:
# the network module looks them up by name and fails the plan when one is missing.
mock_provider "aws" {
  source = "../../mocks/aws"

  mock_data "aws_availability_zones" {
    defaults = {
      names = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    }
  }
}

mock_provider "kubernetes" {}

mock_provider "helm" {}

mock_provider "random" {}

variables {
  environment        = "prod"
  production         = true
  region             = "eu-west-1"
  name               = "tp-test"
  tags               = { Owner = "platform-team" }
  availability_zones = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
  vpc_cidr           = "10.0.0.0/16"

  single_nat_gateway     = false
  log_retention_days     = 365
  endpoint_public_access = false

  node_group = {
    instance_types = ["m6i.large"]
    min_size       = 3
    max_size       = 9
    desired_size   = 3
  }

  database = {
    instance_class               = "db.m7g.large"
    allocated_storage_gib        = 50
    max_allocated_storage_gib    = 500
    multi_az                     = true
    deletion_protection          = true
    skip_final_snapshot          = false
    backup_retention_days        = 14
    performance_insights_enabled = true
    monitoring_interval_seconds  = 60
  }

  ecr_force_delete            = false
  secret_recovery_window_days = 30
  observability_enabled       = true
}

run "refuses_one_nat_gateway" {
  command = plan

  variables {
    single_nat_gateway = true
  }

  expect_failures = [var.production]
}

run "refuses_an_unprotected_database" {
  command = plan

  variables {
    database = merge(var.database, {
      multi_az            = false
      deletion_protection = false
      skip_final_snapshot = true
    })
  }

  expect_failures = [var.production]
}

run "refuses_disposable_images_and_secrets" {
  command = plan

  variables {
    ecr_force_delete            = true
    secret_recovery_window_days = 0
  }

  expect_failures = [var.production]
}

run "refuses_zones_of_another_region" {
  command = plan

  variables {
    availability_zones = ["us-east-1a", "us-east-1b", "us-east-1c"]
  }

  expect_failures = [var.availability_zones]
}

run "refuses_a_deployment_without_an_owner" {
  command = plan

  variables {
    tags = {}
  }

  expect_failures = [var.tags]
}

run "the_platform_needs_an_image_tag" {
  command = plan

  variables {
    enable_platform       = true
    bootstrap_admin_email = "admin@example.com"
  }

  expect_failures = [var.enable_platform]
}

run "refuses_a_recovery_window_secrets_manager_does_not_accept" {
  command = plan

  variables {
    secret_recovery_window_days = 3
  }

  expect_failures = [var.secret_recovery_window_days]
}

run "refuses_a_retention_cloudwatch_logs_does_not_accept" {
  command = plan

  variables {
    log_retention_days = 100
  }

  expect_failures = [var.log_retention_days]
}
