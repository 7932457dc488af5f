"""``python -m notification_service serve|migrate``: the container entry points."""

from __future__ import annotations

from notification_service.config import get_settings
from taskplane_common.cli import run_service_cli


def main() -> None:
    run_service_cli("notification_service", get_settings, port_of=lambda: get_settings().port)


if __name__ == "__main__":
    main()
