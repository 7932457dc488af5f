# Mock data the modules' `terraform test` files share (mock_provider "aws" with
# source = "../../mocks/aws", relative to the module `terraform test` runs in): the
# account, partition, region and policy documents a plan reads, with values shaped
# like real ones (a mocked provider would otherwise return random strings).

mock_data "aws_caller_identity" {
  defaults = {
    account_id = "000000000000"
  }
}

mock_data "aws_partition" {
  defaults = {
    partition = "aws"
  }
}

mock_data "aws_region" {
  defaults = {
    region = "mock-region-1"
  }
}

mock_data "aws_iam_policy_document" {
  defaults = {
    json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
  }
}
