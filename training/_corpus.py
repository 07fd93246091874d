"""The training corpus of the injection model: which files, which rows, which label.

Held out entirely (never read here): JailbreakBench artifacts and TaskTracker's
``jailbreaks_pair_attack.txt`` (the same PAIR prompts), AgentDojo, BIPIA's attack
strings and test contexts, GPTFuzz's ``seed_short_25.csv``, TaskTracker's
``saved_injections_test.txt``, the held-out half of self-instruct's user-oriented set
(by SHA-256 of the text, ``is_train_half``), Spider's ten held-out databases, defog
and XSTest. See the data PROVENANCE.md for the reasons.
"""

from __future__ import annotations

import csv
import json
import random
from dataclasses import dataclass
from pathlib import Path

from _adversarial import (
    decorate,
    framed_jailbreaks,
    gcg_like,
    roleplay_benign,
    structured_benign,
)
from _persuasion import (
    benign_questions,
    benign_system_prompts,
    persuasion_benign,
    persuasion_framed,
)
from _synthetic import synthetic_attacks, synthetic_benign, synthetic_instructions
from _synthetic_json import json_wrapped, synthetic_tool_json
from bastion.evaluation._presets import SPIDER_TRAIN_DBS, is_train_half
from bastion.evaluation.datasets import load_file

__all__ = ["Sample", "build_corpus"]

TT = "injection/tasktracker-injection-components/"
GPTFUZZ = "injection/gptfuzz/"
BIPIA = "injection/bipia/"


@dataclass(frozen=True, slots=True)
class Sample:
    text: str
    attack: bool
    source: str


def _lines(root: Path, relative: str) -> list[str]:
    return [e.text.strip() for e in load_file(root / relative, "benign") if e.text.strip()]


def _bipia_contexts(root: Path, seed: int) -> list[str]:
    """Clean BIPIA *train* contexts (email, code answers, a sample of tables)."""
    contexts: list[str] = []
    for task, keep in (("email", 50), ("code", 50), ("table", 250)):
        rows = [
            json.loads(line)
            for line in (root / BIPIA / task / "train.jsonl").read_text("utf-8").splitlines()
            if line.strip()
        ]
        for row in rows[:keep]:
            context = row["context"]
            contexts.append("\n".join(context) if isinstance(context, list) else str(context))
    return contexts


def _questions(root: Path) -> list[str]:
    return [
        line.split("Answer:")[0].removeprefix("Question:").strip()
        for line in _lines(root, TT + "trivia_pairs.txt")
    ]


def _seed_outputs(root: Path) -> list[str]:
    """The reference outputs of the self-instruct *seed* tasks (benign prose)."""
    path = root / "benign/self-instruct-benign/data/seed_tasks.jsonl"
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    return [i["output"] for row in rows for i in row["instances"] if i.get("output")]


def _refusals(root: Path, keep: int) -> list[str]:
    """GPTFuzz train responses judged not jailbroken (label 0): model prose, benign."""
    path = root / GPTFUZZ / "responses_labeled/train.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = [r["Response"] for r in csv.DictReader(handle) if r["label"] == "0"]
    unique = sorted(set(rows))
    return unique[:: max(1, len(unique) // keep)][:keep]


def _embed(carrier: str, injection: str, rng: random.Random) -> str:
    """An injection in a document: at the start, the end or a paragraph break."""
    where = rng.randrange(3)
    if where == 0:
        return injection + "\n" + carrier
    if where == 1:
        return carrier + "\n" + injection
    cut = len(carrier) // 2
    return carrier[:cut] + "\n\n" + injection + "\n\n" + carrier[cut:]


def build_corpus(root: Path, seed: int) -> list[Sample]:
    rng = random.Random(seed)
    samples: list[Sample] = []

    def add(texts: list[str], attack: bool, source: str) -> None:
        samples.extend(Sample(t, attack, source) for t in texts if t.strip())

    # -- attacks ---------------------------------------------------------------------
    triggers = _lines(root, TT + "saved_injections.txt")
    tasks = _questions(root) + _lines(root, TT + "translated_secondary_tasks.txt")
    add(triggers, True, "tasktracker-triggers")
    composite = [f"{t} {rng.choice(tasks)}" for t in triggers for _ in range(2)]
    add(composite, True, "tasktracker-trigger+task")
    carriers = _bipia_contexts(root, seed)
    synthetic = synthetic_attacks(600, seed)
    embedded: list[str] = []
    cuts: list[str] = []
    for _ in range(600):
        # The same cut of the same carrier with and without the injection (one window
        # long): the model must learn the injection, not the carrier.
        cut = rng.choice(carriers)[: rng.randrange(300, 1200)]
        embedded.append(_embed(cut, rng.choice([*composite, *synthetic]), rng))
        cuts.append(cut)
    add(embedded, True, "embedded-in-bipia-train-context")
    add(cuts, False, "bipia-train-context-cuts")
    templates = [e.text for e in load_file(root / GPTFUZZ / "prompts/GPTFuzzer.csv", "attack")]
    harmful = _lines(root, GPTFUZZ + "questions/question_list.csv")
    filled = [
        t.replace("[INSERT PROMPT HERE]", harmful[(i * 4 + k) % len(harmful)])
        for i, t in enumerate(templates)
        for k in range(4)
    ]
    add(filled, True, "gptfuzz-templates")
    add(_lines(root, TT + "llm_adaptive_attacks.txt"), True, "tasktracker-adaptive")
    add(synthetic, True, "synthetic-attacks")
    instructions = synthetic_instructions(600, seed + 3)
    pool = sorted({w for text in [*carriers, *tasks] for w in text.split() if w.isalpha()})
    add(
        gcg_like([*harmful, *instructions], pool, 1400, seed + 5),
        True,
        "synthetic-adversarial-suffix",
    )
    add(decorate(rng.sample(composite, 300), seed + 9), True, "decorated-trigger+task")
    add(framed_jailbreaks(harmful, 700, seed + 6), True, "synthetic-framed-jailbreaks")
    add(persuasion_framed(harmful, 700, seed + 13), True, "synthetic-persuasion-jailbreaks")
    # Injections inside JSON tool results / fields: the same JSON shapes as the benign
    # tool definitions below, so JSON punctuation is no cue either way.
    add(json_wrapped([*composite, *synthetic], 300, seed + 12), True, "synthetic-json-wrapped")
    # lr-ngram-1 tried purely random punctuation suffixes and dropped them ("punctuation
    # = attack"); the GCG-shaped suffixes above are balanced by the code / SQL / URL / CSV
    # near misses below and read by the dense gibberish features.

    # -- benign ----------------------------------------------------------------------
    seed_tasks = load_file(
        root / "benign/self-instruct-benign/benign_prompts_normalized.jsonl",
        "benign",
        where={"source": ("seed_tasks",)},
    )
    add([e.text for e in seed_tasks], False, "self-instruct-seed")
    spider = load_file(
        root / "benign/spider-dev/dev_questions.jsonl",
        "benign",
        where={"db_id": SPIDER_TRAIN_DBS},
    )
    add([e.text for e in spider], False, "spider-train-dbs")
    queries = load_file(
        root / "benign/spider-dev/dev_questions.jsonl",
        "benign",
        text_keys=("query",),
        where={"db_id": SPIDER_TRAIN_DBS},
    )
    add(sorted({e.text for e in queries}), False, "spider-train-dbs-sql")
    user_oriented = load_file(
        root / "benign/self-instruct-benign/benign_prompts_normalized.jsonl",
        "benign",
        where={"source": ("user_oriented",)},
    )
    add([e.text for e in user_oriented if is_train_half(e.text)], False, "self-instruct-half")
    presidio = json.loads((root / "pii/presidio-synth/synth_dataset_v2_train.json").read_text())
    add([row["full_text"] for row in presidio], False, "presidio-synth")
    add(carriers, False, "bipia-train-contexts")
    add(tasks, False, "tasktracker-tasks-alone")
    # Harmful questions on their own are not injections: the model must learn the
    # jailbreak framing, not the topic (content safety is a different scanner's job).
    add(harmful, False, "gptfuzz-questions-alone")
    add(synthetic_benign(600, seed + 1), False, "synthetic-hard-negatives")
    add(instructions, False, "synthetic-instructions")
    add(decorate(instructions[:300], seed + 10), False, "decorated-instructions")
    add(structured_benign(600, seed + 7), False, "synthetic-structured")
    add(synthetic_tool_json(800, seed + 11), False, "synthetic-tool-json")
    add(roleplay_benign(400, seed + 8), False, "synthetic-roleplay-benign")
    add(persuasion_benign(500, seed + 14), False, "synthetic-persuasion-benign")
    add(benign_questions(pool, 800, seed + 15), False, "synthetic-questions")
    add(benign_system_prompts(300, seed + 16), False, "synthetic-system-prompts")
    add(_seed_outputs(root), False, "self-instruct-seed-outputs")
    add(_refusals(root, 800), False, "gptfuzz-refusal-responses")
    return samples
