"""Build the console's single-page app when its sources changed, and only then.

``python -m console_service.build`` (``make console``, ``make run``, ``make test`` and the
browser tests call it): ``npm ci`` from the committed lockfile when ``package-lock.json``
is newer than the last install (a stamp file in ``node_modules``), then ``npm run build``
when a source, the lockfile or an OpenAPI document is newer than ``build/index.html``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from taskplane_client.commandline import UNREACHABLE, exit_with

PROG = "python -m console_service.build"
WEB = Path(__file__).resolve().parent.parent / "web"
REPO = WEB.parent.parent.parent
INSTALL_STAMP = WEB / "node_modules" / ".stamp-npm-ci"
BUILT = WEB / "build" / "index.html"


def _newest(paths: Iterable[Path]) -> float:
    return max((p.stat().st_mtime for p in paths if p.is_file()), default=0.0)


def _sources() -> list[Path]:
    files = [p for p in (WEB / "src").rglob("*") if "lib/api" not in p.as_posix()]
    files += [WEB / name for name in ("package.json", "package-lock.json", "svelte.config.js")]
    files += [WEB / "vite.config.ts", *sorted((WEB / "scripts").glob("*.mjs"))]
    files += sorted((REPO / "docs" / "api").glob("*.openapi.json"))
    return files


def _npm(*args: str) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not installed (Node 20 and npm are needed to build the console)")
    subprocess.run([npm, *args], cwd=WEB, check=True)  # noqa: S603 - fixed npm arguments


def install_needed() -> bool:
    lock = WEB / "package-lock.json"
    return not INSTALL_STAMP.exists() or INSTALL_STAMP.stat().st_mtime < lock.stat().st_mtime


def build_needed() -> bool:
    return not BUILT.exists() or BUILT.stat().st_mtime < _newest(_sources())


def ensure_built() -> Path:
    """The build directory, after installing and building whatever is out of date."""
    if install_needed():
        _npm("ci", "--no-audit", "--no-fund")
        INSTALL_STAMP.touch()
    if build_needed():
        _npm("run", "build")
    return BUILT.parent


def main() -> None:
    argparse.ArgumentParser(prog=PROG, description=__doc__).parse_args()
    try:
        built = ensure_built()
    except RuntimeError as exc:  # npm missing: install it
        exit_with(PROG, str(exc))
    except subprocess.CalledProcessError as exc:  # npm said why, above
        exit_with(PROG, f"{' '.join(exc.cmd[1:])} failed (exit {exc.returncode})", UNREACHABLE)
    print(f"console built in {built}", file=sys.stderr)


if __name__ == "__main__":
    main()
