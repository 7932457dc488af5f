# Runs in .github/workflows/terraform.yml (`terraform test`), not offline: it needs
# the provider registry for init. The providers are mocked: nothing reaches AWS.

mock_provider "aws" {
  mock_data "aws_availability_zones" {
    defaults = {
      names = ["mock-region-1a", "mock-region-1b", "mock-region-1c"]
    }
  }
}

variables {
  name               = "tp-test"
  cluster_name       = "tp-test"
  availability_zones = ["mock-region-1a", "mock-region-1b", "mock-region-1c"]
}

run "three_tiers_per_zone_without_overlap" {
  command = plan

  assert {
    condition     = length(local.private_subnets) == 3 && length(local.public_subnets) == 3 && length(local.database_subnets) == 3
    error_message = "expected one private, one public and one database subnet per zone"
  }

  assert {
    condition     = length(distinct(concat(local.private_subnets, local.public_subnets, local.database_subnets))) == 9
    error_message = "two subnets share a CIDR block"
  }
}

run "rejects_a_single_zone" {
  command = plan

  variables {
    availability_zones = ["mock-region-1a"]
  }

  expect_failures = [var.availability_zones]
}

run "rejects_a_vpc_smaller_than_a_slash_20" {
  command = plan

  variables {
    vpc_cidr = "10.0.0.0/24"
  }

  expect_failures = [var.vpc_cidr]
}
