"""`terraform fmt -check` runs offline: the binary needs no provider for it."""

from __future__ import annotations

import os
import subprocess

from taskplane_testing.terraform import REPO_ROOT, TF_ROOT, terraform_binary


def test_terraform_fmt_is_clean() -> None:
    env = {**os.environ, "TF_CLI_CONFIG_FILE": os.devnull, "CHECKPOINT_DISABLE": "1"}
    result = subprocess.run(
        [terraform_binary(), "fmt", "-check", "-recursive", "-diff", str(TF_ROOT)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, (
        f"terraform fmt would change files:\n{result.stdout}\n{result.stderr}"
    )
    assert result.stdout.strip() == ""
