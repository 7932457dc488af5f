"""``python -m scripts.dashboards``: rewrite the chart's dashboard files."""

from __future__ import annotations

import sys

from . import DASHBOARD_DIR, generated


def main() -> int:
    for path, text in generated().items():
        path.write_text(text)
        print(f"wrote {path.relative_to(DASHBOARD_DIR.parents[2])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
