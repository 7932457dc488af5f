"""``python -m bench [--quick] [--only SECTION]``: the queue comparison, then (without
``--only``) the sizing measurements of :mod:`bench.sizing`."""

from __future__ import annotations

import sys

from bench.cli import main
from bench.sizing import run as sizing

code = main()
if code == 0 and "--only" not in sys.argv:
    code = sizing.main(sys.argv[1:])
raise SystemExit(code)
