"""``python -m bench [--quick] [--only engine|http|pagination]``."""

from __future__ import annotations

from bench.cli import main

raise SystemExit(main())
