"""Running the real ``bastion`` command line: in this process, or in a subprocess.

``bastion(...)`` runs the command in-process through Typer's test runner: the same
application ``python -m bastion`` builds (:func:`bastion.cli.build_app`), the same
argument parsing, environment, stdin, stdout, stderr and exit code, without paying
the interpreter's start-up (about 2.5 s here) for every call. ``subprocess=True`` runs
``python -m bastion`` for real, for what only a process shows (the entry point,
signals, a server that must stop); ``serve`` and ``demo`` always run so, since in
this process a server that failed to refuse would never return.
"""

from __future__ import annotations

import os
import subprocess as sp
import sys
import traceback
from pathlib import Path

from typer.testing import CliRunner

from bastion.cli import build_app


def bastion(
    *args: str,
    data_dir: Path,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    subprocess: bool = False,
) -> sp.CompletedProcess[str]:
    if subprocess or args[:1] in (("serve",), ("demo",)):
        full_env = (
            {k: v for k, v in os.environ.items() if not k.startswith("BASTION_")}
            | {"BASTION_DATA_DIR": str(data_dir)}
            | (env or {})
        )
        return sp.run(
            [sys.executable, "-m", "bastion", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=full_env,
            timeout=120,
            check=False,
        )
    # The runner sets these for the call and restores the environment afterwards.
    overrides: dict[str, str | None] = {k: None for k in os.environ if k.startswith("BASTION_")}
    overrides |= {"BASTION_DATA_DIR": str(data_dir)} | (env or {})
    result = CliRunner().invoke(build_app(), list(args), input=stdin, env=overrides)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        # What the interpreter would print for an uncaught exception.
        stderr += "".join(traceback.format_exception(result.exception))
    return sp.CompletedProcess(
        ["bastion", *args], result.exit_code, stdout=result.stdout, stderr=stderr
    )
