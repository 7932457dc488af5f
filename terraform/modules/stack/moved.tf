# Upgrades from before the shared kms_key module. The database, secrets and
# notifications Lambda keys (and their aliases) were resources of those modules
# (`aws_kms_key.this`, `aws_kms_alias.this`) and are now the modules' `module.kms`;
# these moves keep the keys, and whatever they encrypt, instead of replacing them.
# They are stated here, once for every deployment made with the stack; a caller of
# those modules outside the stack states the same two moves for its module call
# (modules/kms_key/README.md, "Upgrading").

moved {
  from = module.database.aws_kms_key.this
  to   = module.database.module.kms.aws_kms_key.this
}

moved {
  from = module.database.aws_kms_alias.this
  to   = module.database.module.kms.aws_kms_alias.this
}

moved {
  from = module.secrets.aws_kms_key.this
  to   = module.secrets.module.kms.aws_kms_key.this
}

moved {
  from = module.secrets.aws_kms_alias.this
  to   = module.secrets.module.kms.aws_kms_alias.this
}

moved {
  from = module.notifications_lambda[0].aws_kms_key.this
  to   = module.notifications_lambda[0].module.kms.aws_kms_key.this
}

moved {
  from = module.notifications_lambda[0].aws_kms_alias.this
  to   = module.notifications_lambda[0].module.kms.aws_kms_alias.this
}
