"""``python -m console_service serve``: the container entry point.

``migrate`` is accepted and does nothing (the console has no database), so the console
starts like every other service.
"""

from __future__ import annotations

import sys

from console_service.config import get_settings
from taskplane_common.cli import run_service_cli


def main() -> None:
    if sys.argv[1:2] == ["migrate"]:
        print("console: no database, nothing to migrate")
        return
    run_service_cli("console_service", get_settings, port_of=lambda: get_settings().port)


if __name__ == "__main__":
    main()
