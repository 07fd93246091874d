"""Measure the secrets scanner on Nosey Parker's rule examples and on benign prompts.

Not a test (pytest does not collect it): a report for humans. Run from the repo root::

    .venv/bin/python tests/scanners/eval_secrets.py [/work/shared/data]

Whole set (the figures issue 5 asks for): recall is the share of all positive examples
on which the scanner reports at least one finding; a negative example with any finding
counts as a false positive, and precision is flagged positives over all flagged
examples. Nosey Parker's negatives are per rule (some still hold a credential another
rule would report), so this precision is a lower bound. Benign prompts are reported
apart (any finding on them is a false positive too).

Covered-rule view: recall over the rules mapped in ``COVERED`` (a hit needs a finding
of the mapped type). Only counts and rule ids are printed, never example text.
"""

from __future__ import annotations

import asyncio
import csv
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from bastion.policy import default_policy
from bastion.scanners import (
    Decision,
    ScanContext,
    SecretsScanner,
    Stage,
    build_pipeline,
    default_registry,
)

COVERED = {
    "np.aws.1": {"aws_access_key_id"},
    "np.aws.2": {"aws_secret_access_key"},
    "np.aws.6": {"aws_access_key_id", "aws_secret_access_key"},
    "np.github.1": {"github_token"},
    "np.github.2": {"github_token"},
    "np.github.3": {"github_token"},
    "np.github.4": {"github_token"},
    "np.github.7": {"github_token"},
    "np.gitlab.2": {"gitlab_token"},
    "np.openai.1": {"openai_api_key"},
    "np.anthropic.1": {"anthropic_api_key"},
    "np.slack.2": {"slack_token"},
    "np.slack.4": {"slack_token"},
    "np.slack.6": {"slack_token"},
    "np.slack.3": {"slack_webhook"},
    "np.stripe.1": {"stripe_key"},
    "np.stripe.2": {"stripe_key"},
    "np.google.5": {"google_api_key"},
    "np.huggingface.1": {"huggingface_token"},
    "np.npm.1": {"npm_token"},
    "np.sendgrid.1": {"sendgrid_api_key"},
    "np.twilio.1": {"twilio_api_key"},
    "np.azure.1": {"azure_storage_key"},
    "np.databricks.1": {"databricks_token"},
    "np.shopify.3": {"shopify_token"},
    "np.shopify.4": {"shopify_token"},
    "np.shopify.5": {"shopify_token"},
    "np.jwt.1": {"jwt"},
    "np.pem.1": {"private_key"},
    "np.pem.2": {"private_key"},
}


def _benign(root: Path) -> list[str]:
    texts: list[str] = []
    with (root / "benign/self-instruct-benign/benign_prompts_normalized.jsonl").open() as fh:
        texts += [json.loads(line)["text"] for line in fh if line.strip()]
    with (root / "benign/spider-dev/dev_questions.jsonl").open() as fh:
        texts += [json.loads(line)["question"] for line in fh if line.strip()]
    with (root / "benign/xstest/xstest_prompts.csv").open(newline="") as fh:
        texts += [row["prompt"] for row in csv.DictReader(fh)]
    return texts


DATASET = "secrets/noseyparker-rule-examples/examples_normalized.jsonl"


def load_rows(root: Path) -> list[dict[str, Any]]:
    with (root / DATASET).open() as fh:
        return [json.loads(line) for line in fh if line.strip()]


def whole_set(rows: list[dict[str, Any]], scanner: SecretsScanner) -> dict[str, Any]:
    """Whole-set counts: flagged positives/negatives and per-rule misses."""
    missed: Counter[str] = Counter()
    flagged_neg: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    for row in rows:
        hit = bool(scanner.find(row["text"]))
        totals[row["label"]] += 1
        totals[row["label"] + "_flagged"] += hit
        if row["label"] == "positive" and not hit:
            missed[row["rule_id"]] += 1
        if row["label"] == "negative" and hit:
            flagged_neg[row["rule_id"]] += 1
    tp, fp = totals["positive_flagged"], totals["negative_flagged"]
    return {
        "positives": totals["positive"],
        "negatives": totals["negative"],
        "tp": tp,
        "fp": fp,
        "recall": tp / totals["positive"],
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "missed": missed,
        "flagged_negatives": flagged_neg,
    }


def main(root: Path) -> None:
    scanner = SecretsScanner()
    rows = load_rows(root)
    for label, options in (("default", {}), ("identifiers=off", {"identifiers": "off"})):
        whole = whole_set(rows, SecretsScanner(options))
        tp, fp = whole["tp"], whole["fp"]
        print(f"whole set, {label}: {whole['positives']} pos, {whole['negatives']} neg")
        print(f"  recall: {tp}/{whole['positives']} = {whole['recall']:.1%}")
        print(f"  negatives flagged: {fp}/{whole['negatives']}")
        print(f"  precision: {tp}/{tp + fp} = {whole['precision']:.1%}")
        print(f"  missed positives by rule: {dict(sorted(whole['missed'].items()))}")
        print(f"  flagged negatives by rule: {dict(sorted(whole['flagged_negatives'].items()))}")
    stats: Counter[str] = Counter()
    missed: Counter[str] = Counter()
    other_hits = 0
    # A negative of one Slack rule is often a positive of a sibling Slack rule, which
    # this scanner folds into one type: such rows are real secrets, not false positives.
    positive_types: dict[str, set[str]] = {}
    for row in rows:
        if row["label"] == "positive" and row["rule_id"] in COVERED:
            positive_types.setdefault(row["text"], set()).update(COVERED[row["rule_id"]])
    for row in rows:
        kinds = {f.type for f in scanner.find(row["text"])}
        wanted = COVERED.get(row["rule_id"])
        if wanted is None:
            other_hits += bool(kinds) and row["label"] == "positive"
            stats["uncovered_" + row["label"]] += 1
            continue
        hit = bool(kinds & wanted)
        if row["label"] == "negative" and wanted & positive_types.get(row["text"], set()):
            stats["negative_sibling"] += 1
            continue
        stats[f"{row['label']}_total"] += 1
        stats[f"{row['label']}_hit"] += hit
        if row["label"] == "positive" and not hit:
            missed[row["rule_id"]] += 1
    pos, neg = stats["positive_total"], stats["negative_total"]
    print(f"covered-rule view ({len(COVERED)} rules mapped to a type):")
    print(f"recall: {stats['positive_hit']}/{pos} = {stats['positive_hit'] / pos:.1%}")
    print(f"missed by rule: {dict(sorted(missed.items()))}")
    print(f"false positives on covered rules' negatives: {stats['negative_hit']}/{neg}")
    print(f"  (excluded: {stats['negative_sibling']} negatives that are a sibling rule's positive)")
    print(f"uncovered rules' positives with some finding: {other_hits}")
    benign = _benign(root)
    flagged = sum(bool(scanner.find(t)) for t in benign)
    print(f"benign prompts flagged by secrets: {flagged}/{len(benign)}")
    pipeline = build_pipeline(default_policy(), default_registry())
    ctx = ScanContext(stage=Stage.INPUT)

    async def count() -> int:
        verdicts = [await pipeline.run(Stage.INPUT, t, ctx) for t in benign]
        return sum(v.decision is not Decision.ALLOW for v in verdicts)

    print(f"benign prompts not allowed by the default input pipeline: {asyncio.run(count())}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data"))
