"""Running the real ``bastion`` command line in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def bastion(
    *args: str, data_dir: Path, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = (
        {k: v for k, v in os.environ.items() if not k.startswith("BASTION_")}
        | {"BASTION_DATA_DIR": str(data_dir)}
        | (env or {})
    )
    return subprocess.run(
        [sys.executable, "-m", "bastion", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=120,
        check=False,
    )
