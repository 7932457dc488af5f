"""Test support shared by every taskplane test suite, one module per concern (see the
README): real PostgreSQL servers, service processes, tokens, peers and emulators.

A development dependency only: no service package depends on it and no image holds it.
Several helpers read the repository's own files (the CRD, the chart, Terraform), so the
package works from a checkout (``make venv`` installs it in editable mode).
"""

from pathlib import Path

#: The repository checkout this package is installed from (editable install).
REPO_ROOT = Path(__file__).resolve().parents[3]
