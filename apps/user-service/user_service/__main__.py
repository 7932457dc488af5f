"""``python -m user_service serve|migrate``: the container entry points."""

from __future__ import annotations

from taskplane_common.cli import run_service_cli
from user_service.config import get_settings


def main() -> None:
    run_service_cli("user_service", get_settings, port_of=lambda: get_settings().port)


if __name__ == "__main__":
    main()
