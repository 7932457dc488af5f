"""``python -m taskplane_operator``: kopf's CLI with the flags our settings imply.

The command line is click's (the library of kopf's own CLI): ``--help`` prints the
settings and exits before anything starts. Invalid settings or no Kubernetes credentials
are one line on stderr and exit status 2, before kopf starts and retries forever.
"""

from __future__ import annotations

import textwrap

import click
import kopf
import yaml
from kopf import cli
from pydantic import ValidationError

from taskplane_client.commandline import exit_with, settings_problems
from taskplane_operator.handlers import kubernetes_login
from taskplane_operator.settings import OperatorSettings

PROG = "taskplane-operator"


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


def settings_help() -> str:
    """The epilog of ``--help``: every setting's variable and meaning, from the model."""
    lines = ["\b", "Settings (environment variables):"]
    for name, field in OperatorSettings.model_fields.items():
        lines.append(f"  TASKPLANE_{name.upper()}")
        lines += textwrap.wrap(
            field.description or "", 76, initial_indent=" " * 6, subsequent_indent=" " * 6
        )
    lines += [
        "",
        "\b",
        "Kubernetes credentials: the in-cluster service account, else $KUBECONFIG or",
        "~/.kube/config. Exit status: 2 for invalid settings or no credentials.",
    ]
    return "\n".join(lines)


def check_credentials() -> None:
    """Refuse to start without Kubernetes credentials, through the operator's own login
    handler (the one kopf calls), instead of retrying the start-up handler forever."""
    try:
        kubernetes_login(kopf.OperatorSettings())
    except (kopf.LoginError, OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        detail = f"the kubeconfig lacks {exc}" if isinstance(exc, KeyError) else str(exc)
        exit_with(
            PROG,
            f"no usable Kubernetes credentials ({detail}); run in a pod with a service "
            "account, or set KUBECONFIG to a kubeconfig file with a current context",
        )


@click.command(
    name=PROG,
    help="Run the taskplane operator: kopf run with the namespaces, liveness endpoint and "
    "log format of the settings below.",
    epilog=settings_help(),
    context_settings={"help_option_names": ["-h", "--help"]},
)
def command() -> None:
    """Check the settings and the credentials, then hand over to ``kopf run``."""
    try:
        settings = OperatorSettings()
    except ValidationError as exc:
        exit_with(PROG, f"invalid settings: {settings_problems(exc, OperatorSettings)}")
    check_credentials()
    cli.main(args=kopf_args(settings), prog_name=PROG)


def main(argv: list[str] | None = None) -> None:
    """The ``taskplane-operator`` script; ``argv`` defaults to the process's arguments."""
    command.main(args=argv, prog_name=PROG)


if __name__ == "__main__":
    main()
