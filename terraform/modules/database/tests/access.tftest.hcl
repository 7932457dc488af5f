# Runs in .github/workflows/terraform.yml (`terraform test`), not offline: it needs
# the provider registry for init. The providers are mocked: nothing reaches AWS.

mock_provider "aws" {
  source = "../../mocks/aws"
}

variables {
  name = "tp-test"
  network = {
    vpc_id                     = "vpc-00000000"
    database_subnet_group_name = "tp-test-db"
    database_subnet_ids        = ["subnet-00000001", "subnet-00000002"]
  }
  allowed_security_groups = { eks-nodes = "sg-00000001", notifications-lambda = "sg-00000002" }
}

run "ingress_only_from_the_allowed_security_groups" {
  command = plan

  assert {
    condition     = length(aws_vpc_security_group_ingress_rule.postgres) == 2
    error_message = "expected one ingress rule per allowed security group"
  }

  assert {
    condition     = alltrue([for rule in aws_vpc_security_group_ingress_rule.postgres : rule.cidr_ipv4 == null && rule.ip_protocol == "tcp"])
    error_message = "PostgreSQL ingress must name security groups, never a CIDR block"
  }
}

run "rejects_no_allowed_security_group" {
  command = plan

  variables {
    allowed_security_groups = {}
  }

  expect_failures = [var.allowed_security_groups]
}

run "rejects_a_reserved_master_username" {
  command = plan

  variables {
    master_username = "postgres"
  }

  expect_failures = [var.master_username]
}

run "rejects_a_storage_ceiling_below_the_allocation" {
  command = plan

  variables {
    allocated_storage_gib     = 100
    max_allocated_storage_gib = 50
  }

  expect_failures = [var.max_allocated_storage_gib]
}

run "rejects_a_proxy_in_one_zone" {
  command = plan

  variables {
    proxy_enabled = true
    network = {
      vpc_id                     = "vpc-00000000"
      database_subnet_group_name = "tp-test-db"
      database_subnet_ids        = ["subnet-00000001"]
    }
  }

  expect_failures = [var.network]
}
