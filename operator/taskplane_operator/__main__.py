"""``python -m taskplane_operator``: kopf's CLI with the flags our settings imply."""

from __future__ import annotations

import sys

from kopf import cli
from pydantic import ValidationError

from taskplane_operator.settings import OperatorSettings


def kopf_args(settings: OperatorSettings) -> list[str]:
    """The ``kopf run`` command line: namespaces and liveness come from the environment."""
    args = ["run", "--standalone", f"--log-format={settings.log_format}"]
    if settings.watch_namespaces:
        for namespace in settings.watch_namespaces:
            args += ["--namespace", namespace]
    else:
        args.append("--all-namespaces")
    if settings.health_port:
        # Pods are probed from the node, so the probe endpoint listens on all addresses.
        args.append(f"--liveness=http://0.0.0.0:{settings.health_port}/healthz")
    return [*args, "-m", "taskplane_operator"]


def main() -> None:
    try:
        settings = OperatorSettings()
    except ValidationError as exc:
        # One readable line per problem instead of a traceback, then exit like a CLI.
        problems = "; ".join(
            str(error["msg"]).removeprefix("Value error, ") for error in exc.errors()
        )
        sys.exit(f"taskplane-operator: invalid settings: {problems}")
    sys.exit(cli.main(args=kopf_args(settings), prog_name="taskplane-operator"))


if __name__ == "__main__":
    main()
