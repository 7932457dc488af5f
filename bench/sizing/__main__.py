"""``python -m bench.sizing``: only the sizing measurements."""

from bench.sizing.run import main

raise SystemExit(main())
