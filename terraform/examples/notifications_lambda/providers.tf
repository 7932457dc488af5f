provider "aws" {
  region = var.region

  # The tags the stack would add (Project, Environment, ManagedBy), for a function
  # deployed on its own.
  default_tags {
    tags = {
      Project     = "taskplane"
      Environment = "example"
      ManagedBy   = "terraform"
    }
  }
}
