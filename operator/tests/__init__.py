"""Operator tests (a package, so pytest never maps this folder to stdlib operator)."""
