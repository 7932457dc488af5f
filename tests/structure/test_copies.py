"""No copy-paste between production files: jscpd over the tree, three kinds of clone allowed.

jscpd 4.3.0 (the copy/paste detector) lives in ``tools/copies``; ``make copies`` installs
it and runs this module alone, ``make test`` installs it before the suite. Its settings
are ``tools/copies/.jscpd.json``: Python, TypeScript, Svelte, Terraform (HCL), shell and
Makefiles; tests, the test support (``apps/testing``), generated files (the console's
OpenAPI types, ``docs/api``) and what builds and package managers write are left out.

Thresholds: a clone is at least 4 lines and 30 tokens. jscpd's defaults (5 lines, 50
tokens), measured on this tree, miss copies of real logic 7 to 10 lines long (a branch
of ``enqueue.py``, an error mapping of the client's token exchange, a header check in
``kubernetes.py``, a response schema shared by two services); 4 and 30 find them, and at
25 tokens the list doubles with shorter shapes (a signature, a few keyword arguments).

Allowed, decided here from the clone and the files (nothing is left out of the scan for
it, so a copy beside an allowed one is still reported):

- Terraform environments: both sides under ``terraform/envs/`` (dev and prod each state
  the whole stack's inputs), or ``terraform/envs/dev`` ~ ``terraform/examples/stack``: the
  example states the disposable database settings dev uses, on purpose, so that it reads
  and applies on its own;
- Alembic headers: both sides in ``migrations/versions/`` and ending by the first line of
  the module's first function: the header, ``def upgrade() -> None:`` and the opening of
  its first statement (``op.create_table(``) are every migration's boilerplate, while a
  copied migration body runs past them and is reported;
- import lists: every line of the clone is part of a Python import statement (or blank),
  such as the models' SQLAlchemy imports (pylint's duplicate-code check skips imports the
  same way).
"""

from __future__ import annotations

import ast
import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / "tools" / "copies"
JSCPD = TOOL / "node_modules" / ".bin" / "jscpd"
CONFIG = TOOL / ".jscpd.json"

TERRAFORM_ENVIRONMENTS = "Terraform environments"
ALEMBIC_HEADER = "Alembic header"
IMPORT_LIST = "import list"


@dataclass(frozen=True)
class Clone:
    """One clone as this test reads it: the two files, the row it prints, and the lines of
    the first file wholly inside the clone."""

    first: str
    second: str
    row: str
    lines: range


def run_jscpd(root: Path, output: Path) -> dict[str, Any]:
    """jscpd's JSON report on the tree at ``root``, with the repository's settings."""
    if not JSCPD.exists():
        pytest.fail(f"jscpd is not installed in {TOOL.relative_to(REPO)}: run `make copies`")
    done = subprocess.run(
        [str(JSCPD), "--config", str(CONFIG), "--output", str(output), "."],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"jscpd failed:\n{done.stdout}\n{done.stderr}"
    report: dict[str, Any] = json.loads((output / "jscpd-report.json").read_text())
    return report


def read_clone(duplicate: dict[str, Any], root: Path) -> Clone:
    """A clone of jscpd's report, with the lines it really covers in the first file.

    The first side is exact (jscpd's fragment is its text): it starts at the first shared
    token, often the end of a line, and ends one token past the match, on the token that
    differs, unless the match reaches the end of the file. The second side is looked up
    window by window (30 tokens) and its lines can point at another repetition in that
    file, so only its path is read: its tokens are the first side's.
    """
    one, two = duplicate["firstFile"], duplicate["secondFile"]
    text = (root / one["name"]).read_text().splitlines()
    start, end = one["startLoc"], one["endLoc"]
    first = start["line"] + bool(text[start["line"] - 1][: start["column"] - 1].strip())
    rest = [text[end["line"] - 1][end["column"] - 1 :], *text[end["line"] :]]
    last = end["line"] - 1 if "".join(rest).strip() else end["line"]
    length = one["end"] - one["start"]  # the second side printed as long as the first
    row = (
        f"{one['name']}:{one['start']}-{one['end']} ~ "
        f"{two['name']}:{two['start']}-{two['start'] + length}"
    )
    return Clone(one["name"], two["name"], row, range(first, last + 1))


def header_end(path: Path) -> int:
    """The last line an Alembic header clone may reach: the first line of the module's
    first function's body (``def upgrade() -> None:`` and the ``op.`` call opening it are
    every migration's boilerplate), 0 when the module has no function."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return node.body[0].lineno
    return 0


def import_lines(tree: ast.Module) -> set[int]:
    """The lines of the module's import statements."""
    return {
        line
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for line in range(node.lineno, (node.end_lineno or node.lineno) + 1)
    }


def only(kind: Callable[[ast.Module], set[int]], path: Path, lines: range) -> bool:
    """Whether every one of ``lines`` (at least one) is blank or among ``kind``'s lines."""
    text = path.read_text()
    found = kind(ast.parse(text))
    source = text.splitlines()
    return len(lines) > 0 and all(n in found or not source[n - 1].strip() for n in lines)


def allowed(clone: Clone, root: Path) -> str | None:
    """The kind of allowed clone ``clone`` is, or ``None`` when it is copy-paste."""
    paths = (clone.first, clone.second)
    roots = {"/".join(path.split("/")[:3]) for path in paths}
    environments = all(path.startswith("terraform/envs/") for path in paths)
    if environments or roots == {"terraform/envs/dev", "terraform/examples/stack"}:
        return TERRAFORM_ENVIRONMENTS
    if not all(path.endswith(".py") for path in paths):
        return None
    source = root / clone.first
    migrations = all("/migrations/versions/" in f"/{path}" for path in paths)
    if migrations and 0 < clone.lines.stop - 1 <= header_end(source):
        return ALEMBIC_HEADER
    if only(import_lines, source, clone.lines):
        return IMPORT_LIST
    return None


def classify(report: dict[str, Any], root: Path) -> list[tuple[Clone, str | None]]:
    """Every clone of jscpd's ``report`` on ``root``, with its allowed kind or ``None``."""
    clones = [read_clone(duplicate, root) for duplicate in report["duplicates"]]
    return [(clone, allowed(clone, root)) for clone in clones]


@pytest.fixture(scope="module")
def tree_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_jscpd(REPO, tmp_path_factory.mktemp("jscpd"))


def test_no_copy_paste_between_production_files(tree_report: dict[str, Any]) -> None:
    reported = [clone.row for clone, kind in classify(tree_report, REPO) if kind is None]
    assert not reported, (
        "copied code between production files (jscpd, tools/copies/.jscpd.json): write it "
        "once, in a shared function, module or component\n" + "\n".join(reported)
    )


def test_the_scan_reads_every_production_language_and_no_test(
    tree_report: dict[str, Any],
) -> None:
    """A setting that dropped a language or read the tests would pass the check above for
    the wrong reason."""
    formats = tree_report["statistics"]["formats"]
    sources = {source for found in formats.values() for source in found["sources"]}
    assert {"python", "typescript", "hcl", "bash", "makefile"} <= set(formats)
    assert {"Makefile", "k8s/kind.mk", ".ci/run"} <= sources
    assert any(source.endswith(".svelte") for source in sources)
    outside = [
        source
        for source in sources
        if {"tests", "testing", "node_modules", ".venv", "build"} & set(source.split("/"))
        or source.startswith("docs/api/")
        or "/src/lib/api/" in source
        or source.endswith((".d.ts", "conftest.py"))
        or source.split("/")[-1].startswith("test_")
    ]
    assert not outside


BODY = """\
    rate = 1 + (tax_percent / 100)
    subtotal = sum(line.quantity * line.unit_price for line in order.lines)
    if order.coupon is not None:
        subtotal -= min(order.coupon.amount, subtotal)
    total = round(subtotal * rate, 2)
    return Price(total=total, currency=order.currency)
"""

MIGRATION = '''\
"""{title}

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
{upgrade}


def downgrade() -> None:
    op.drop_table("{table}", schema="{schema}")
'''

CREATE_TABLE = """\
    op.create_table(
        "jobs",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.Column("payload", sa.dialects.postgresql.JSONB(), nullable=True),
        schema="queue",
    )"""

IMPORTS = """\
from shop.catalogue import (
    Article,
    Category,
    Discount,
    PriceList,
    Supplier,
    TaxRate,
    Warehouse,
)
from shop.money import Amount, Currency, convert, round_half_even

"""

SIGNATURE = """\
def price(
    order: Order,
    tax_percent: float,
    currency: Currency,
    rounding: Rounding,
    coupons: Sequence[Coupon],
    warehouse: Warehouse | None,
) -> Price:
"""

OUTPUTS = """\
output "cluster_name" {
  description = "The EKS cluster's name"
  value       = module.stack.cluster_name
}

output "database_endpoint" {
  description = "The PostgreSQL endpoint the services connect to"
  value       = module.stack.database_endpoint
  sensitive   = true
}

output "queue_urls" {
  description = "The notification queue and its dead-letter queue"
  value = {
    events      = module.stack.events_queue_url
    dead_letter = module.stack.dead_letter_queue_url
  }
}
"""


VERSIONS = "migrations/versions"


def migration(title: str, schema: str, upgrade: str) -> str:
    return MIGRATION.format(title=title, table="jobs", schema=schema, upgrade=upgrade)


#: Tiny trees jscpd runs on for real, and what this test must make of their clones: each
#: pair of files (sorted) with its allowed kind, or ``None`` for copy-paste.
CASES: dict[str, tuple[dict[str, str], dict[tuple[str, str], str | None]]] = {
    "a copied function body is reported": (
        {
            "shop/pricing.py": f"def price(order, tax_percent):\n{BODY}",
            "billing/invoice.py": f"def invoice_total(order, tax_percent=20):\n{BODY}",
        },
        {("billing/invoice.py", "shop/pricing.py"): None},
    ),
    "an Alembic header is allowed": (
        {
            f"app/{VERSIONS}/0002_a.py": migration(
                "jobs", "a", '    op.execute("CREATE SEQUENCE a.n")'
            ),
            f"other/{VERSIONS}/0002_b.py": migration(
                "flags", "b", '    op.add_column("t", sa.Column("f", sa.Boolean()), schema="b")'
            ),
        },
        {(f"app/{VERSIONS}/0002_a.py", f"other/{VERSIONS}/0002_b.py"): ALEMBIC_HEADER},
    ),
    "a copied migration body is reported": (
        {
            f"one/{VERSIONS}/0002_jobs.py": migration("jobs", "queue", CREATE_TABLE),
            f"two/{VERSIONS}/0002_jobs.py": migration("the jobs table", "queue", CREATE_TABLE),
        },
        {(f"one/{VERSIONS}/0002_jobs.py", f"two/{VERSIONS}/0002_jobs.py"): None},
    ),
    "an import list is allowed": (
        {
            "orders/views.py": f"{IMPORTS}SCHEMA = 'orders'\n",
            "stock/views.py": f"{IMPORTS}\nclass Stock:\n    pass\n",
        },
        {("orders/views.py", "stock/views.py"): IMPORT_LIST},
    ),
    "a shared parameter list is reported": (
        {
            "shop/orders.py": f"{SIGNATURE}{BODY}",
            "shop/quotes.py": SIGNATURE.replace("price", "quote") + "    return quote_of(order)\n",
        },
        {("shop/orders.py", "shop/quotes.py"): None},
    ),
    "the Terraform environments are allowed, two modules are not": (
        {
            "terraform/envs/dev/outputs.tf": OUTPUTS,
            "terraform/envs/prod/outputs.tf": OUTPUTS,
            "terraform/modules/stack/outputs.tf": OUTPUTS.replace("module.stack.", "local."),
            "terraform/modules/other/outputs.tf": OUTPUTS.replace("module.stack.", "local."),
        },
        {
            ("terraform/envs/dev/outputs.tf", "terraform/envs/prod/outputs.tf"): (
                TERRAFORM_ENVIRONMENTS
            ),
            ("terraform/modules/other/outputs.tf", "terraform/modules/stack/outputs.tf"): None,
        },
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_the_classification_of_jscpd_clones(case: str, tmp_path: Path) -> None:
    files, expected = CASES[case]
    tree = tmp_path / "tree"
    for name, text in files.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text(text)
    found = {
        (min(clone.first, clone.second), max(clone.first, clone.second)): kind
        for clone, kind in classify(run_jscpd(tree, tmp_path / "report"), tree)
    }
    assert found == expected
