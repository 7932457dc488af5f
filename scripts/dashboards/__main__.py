"""``python -m scripts.dashboards``: rewrite the chart's dashboard files."""

from __future__ import annotations

import argparse
import sys

from . import DASHBOARD_DIR, generated


def main(argv: list[str]) -> int:
    argparse.ArgumentParser(
        prog="python -m scripts.dashboards",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    ).parse_args(argv)
    for path, text in generated().items():
        path.write_text(text)
        print(f"wrote {path.relative_to(DASHBOARD_DIR.parents[2])}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
