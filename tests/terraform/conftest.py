"""Fixtures for the offline Terraform checks; the helpers live in tf_hcl.py."""

from __future__ import annotations

import pytest

from taskplane_testing.terraform import HclDoc, load_all


@pytest.fixture(scope="session")
def docs() -> dict[str, HclDoc]:
    """Every .tf file under terraform/, parsed, keyed by path relative to the repository."""
    parsed = load_all()
    assert parsed, "no Terraform files found"
    return parsed
