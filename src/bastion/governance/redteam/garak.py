"""Optional: NVIDIA garak against the target's OpenAI-compatible API (``--garak``).

garak is not a dependency. When its executable is on PATH it runs with the target as
``openai.OpenAICompatible`` (the key goes into a 0600 generator file in a temporary
directory, never on the command line), offline (``HF_HUB_OFFLINE=1``, XDG dirs in the
temporary directory), and each ``entry_type == "eval"`` line of its report JSONL
becomes a finding: got through when some attempts passed the probe's detector
(garak exits 0 even then). Without garak, one finding says ``skipped``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from bastion.governance.redteam.report import Evidence, Finding, Outcome, Severity

__all__ = ["DEFAULT_PROBES", "parse_garak_report", "run_garak"]

SCENARIO = "garak"
DEFAULT_PROBES = (
    "probes.promptinject,probes.encoding,probes.dan.DanInTheWild,"
    "probes.latentinjection,probes.web_injection"
)


def parse_garak_report(lines: list[str]) -> list[Finding]:
    """Findings from the lines of a garak ``report.jsonl`` (its eval entries)."""
    findings = []
    for line in lines:
        try:
            entry: Any = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict) or entry.get("entry_type") != "eval":
            continue
        probe, detector = str(entry.get("probe", "?")), str(entry.get("detector", "?"))
        passed, total = int(entry.get("passed", 0)), int(entry.get("total", 0))
        failed = max(0, total - passed)
        outcome = Outcome.GOT_THROUGH if failed else Outcome.BLOCKED
        ev = Evidence(
            markers=(f"{failed}/{total} attempts failed {detector}",) if failed else (),
            note=f"{passed}/{total} passed",
        )
        severity = Severity.HIGH if total and failed / total >= 0.1 else Severity.MEDIUM
        findings.append(
            Finding(SCENARIO, f"{probe}:{detector}", outcome, severity, ev, "garak", "garak")
        )
    return findings


async def run_garak(
    base_url: str, key: str, model: str, probes: str = DEFAULT_PROBES, seconds: float = 3600
) -> list[Finding]:
    exe = shutil.which("garak")
    if exe is None:
        return [
            Finding(
                SCENARIO,
                "garak",
                Outcome.SKIPPED,
                Severity.MEDIUM,
                Evidence(note="garak not installed"),
            )
        ]
    with tempfile.TemporaryDirectory(prefix="bastion-garak-") as tmp:
        work = Path(tmp)
        gen = work / "gen.json"
        config = {
            "openai": {
                "OpenAICompatible": {
                    "uri": base_url.rstrip("/") + "/v1",
                    "api_key": key,
                    "model": model,
                }
            }
        }
        fd = os.open(gen, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(config, f)
        env = {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "XDG_DATA_HOME": str(work / "data"),
            "XDG_CONFIG_HOME": str(work / "config"),
            "XDG_CACHE_HOME": str(work / "cache"),
        }
        args = [
            exe,
            "-t",
            "openai.OpenAICompatible",
            "-n",
            model,
            "-G",
            str(gen),
            "--spec",
            probes,
            "--report_prefix",
            "bastion-redteam",
        ]
        proc = await asyncio.create_subprocess_exec(
            *args,
            env=env,
            cwd=work,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            await asyncio.wait_for(proc.wait(), seconds)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            return [
                Finding(
                    SCENARIO,
                    "garak",
                    Outcome.ERROR,
                    Severity.MEDIUM,
                    Evidence(note=f"garak did not finish in {seconds:.0f} s"),
                )
            ]
        reports = await asyncio.to_thread(lambda: sorted(work.rglob("*.report.jsonl")))
        if not reports:
            return [
                Finding(
                    SCENARIO,
                    "garak",
                    Outcome.ERROR,
                    Severity.MEDIUM,
                    Evidence(note=f"garak wrote no report (exit {proc.returncode})"),
                )
            ]
        lines = (await asyncio.to_thread(reports[-1].read_text, "utf-8", "replace")).splitlines()
    return parse_garak_report(lines) or [
        Finding(
            SCENARIO,
            "garak",
            Outcome.ERROR,
            Severity.MEDIUM,
            Evidence(note="garak's report has no eval entries"),
        )
    ]
