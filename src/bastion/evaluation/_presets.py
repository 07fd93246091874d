"""Named evaluation sets over the public data folder (``/work/shared/data`` layout).

``trained`` says whether training/train_injection.py learns from the set (then only
an in-source held-out part is listed here, or the preset is marked as trained and is
reported as in-sample). The split rules are the ones the training script uses.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

__all__ = ["GROUPS", "PRESETS", "SPIDER_TRAIN_DBS", "Preset", "is_train_half"]

_TT = "injection/tasktracker-injection-components/"
_JBB = "injection/jailbreakbench-artifacts/jailbreak_prompts_normalized.jsonl"
_DEFOG = "sql/defog/questions/"

# Spider dev databases the model trains on (the first ten by name); the other ten are
# held out for the false-positive measurement.
SPIDER_TRAIN_DBS = (
    "battle_death",
    "car_1",
    "concert_singer",
    "course_teach",
    "cre_Doc_Template_Mgt",
    "dog_kennels",
    "employee_hire_evaluation",
    "flight_2",
    "museum_visit",
    "network_1",
)
_SPIDER_HELD_OUT = (
    "orchestra",
    "pets_1",
    "poker_player",
    "real_estate_properties",
    "singer",
    "student_transcripts_tracking",
    "tvshow",
    "voter_1",
    "world_1",
    "wta_1",
)


def is_train_half(text: str) -> bool:
    """Whether a row of a half-trained source (self-instruct user-oriented) is in the
    training half: the first byte of the SHA-256 of its text is even."""
    return hashlib.sha256(text.encode("utf-8")).digest()[0] % 2 == 0


@dataclass(frozen=True, slots=True)
class Preset:
    files: tuple[str, ...]
    label: Literal["attack", "benign"] | None
    trained: bool
    description: str
    text_keys: tuple[str, ...] = ("text", "prompt", "question")
    where: Mapping[str, tuple[str, ...]] | None = None
    questions: str | None = None  # GPTFuzz: fill each template with a question
    # Half-trained sources: keep only the training half, or only the held-out half.
    half: Literal["train", "held-out"] | None = None


def _jbb(method: str, description: str) -> Preset:
    return Preset((_JBB,), "attack", False, description, where={"method": (method,)})


PRESETS: Mapping[str, Preset] = MappingProxyType(
    {
        # -- attacks ---------------------------------------------------------------
        "tasktracker-triggers-train": Preset(
            (_TT + "saved_injections.txt",), "attack", True, "TaskTracker trigger phrases (train)"
        ),
        "tasktracker-triggers-test": Preset(
            (_TT + "saved_injections_test.txt",),
            "attack",
            False,
            "TaskTracker trigger phrases, upstream test file (decorated separators)",
        ),
        "tasktracker-adaptive": Preset(
            (_TT + "llm_adaptive_attacks.txt",), "attack", True, "adaptive suffix attacks"
        ),
        "tasktracker-pair": Preset(
            (_TT + "jailbreaks_pair_attack.txt",),
            "attack",
            False,
            "PAIR jailbreaks (the JailbreakBench PAIR artifacts)",
        ),
        "gptfuzz-templates": Preset(
            ("injection/gptfuzz/prompts/GPTFuzzer.csv",),
            "attack",
            True,
            "77 jailbreakchat templates, question i mod 100 spliced in",
            questions="injection/gptfuzz/questions/question_list.csv",
        ),
        "gptfuzz-short": Preset(
            ("injection/gptfuzz/prompts/seed_short_25.csv",),
            "attack",
            False,
            "25 GPT-4-shortened templates (verazuo collection), question spliced in",
            questions="injection/gptfuzz/questions/question_list.csv",
        ),
        "jailbreakbench": Preset((_JBB,), "attack", False, "all JailbreakBench artifacts"),
        "jailbreakbench-jbc": _jbb("JailbreakChat", "JailbreakBench: AIM template (JBC)"),
        "jailbreakbench-pair": _jbb("PAIR", "JailbreakBench: PAIR (semantic role-play)"),
        "jailbreakbench-gcg": _jbb("GCG", "JailbreakBench: GCG adversarial suffixes"),
        "jailbreakbench-dsn": _jbb("DSN", "JailbreakBench: DSN adversarial suffixes"),
        "jailbreakbench-random-search": _jbb(
            "adaptive_random_search", "JailbreakBench: template + random-search suffix"
        ),
        "agentdojo-payloads": Preset(
            ("injection/agentdojo/derived_injection_payloads.jsonl",),
            "attack",
            False,
            "AgentDojo important_instructions payloads",
        ),
        "agentdojo-goals": Preset(
            ("injection/agentdojo/tasks.jsonl",),
            "attack",
            False,
            "AgentDojo attacker goals alone (no injection wording)",
            where={"kind": ("injection_task",)},
        ),
        "bipia-poisoned": Preset(
            ("injection/bipia/derived/poisoned_contexts_test.jsonl",),
            None,
            False,
            "BIPIA test contexts, clean (benign) and with an attack appended (attack)",
        ),
        "pint-example": Preset(
            ("injection/pint-example/example-dataset.yaml",),
            None,
            False,
            "Lakera PINT format example (8 rows)",
        ),
        # -- benign ----------------------------------------------------------------
        "self-instruct-eval": Preset(
            ("benign/self-instruct-benign/benign_prompts_normalized.jsonl",),
            "benign",
            False,
            "self-instruct user-oriented instructions, held-out half (the other half, by "
            "SHA-256 of the text, and the seed tasks are trained on)",
            where={"source": ("user_oriented",)},
            half="held-out",
        ),
        "self-instruct-train-half": Preset(
            ("benign/self-instruct-benign/benign_prompts_normalized.jsonl",),
            "benign",
            True,
            "self-instruct user-oriented instructions, the half trained on (in-sample)",
            where={"source": ("user_oriented",)},
            half="train",
        ),
        "spider-eval": Preset(
            ("benign/spider-dev/dev_questions.jsonl",),
            "benign",
            False,
            "Spider dev questions of the ten held-out databases",
            where={"db_id": _SPIDER_HELD_OUT},
        ),
        "defog-questions": Preset(
            tuple(
                _DEFOG + name
                for name in (
                    "instruct_basic_postgres.csv",
                    "instruct_advanced_postgres.csv",
                    "idk.csv",
                )
            ),
            "benign",
            False,
            "defog sql-eval questions: instruct postgres files and idk (no questions_gen here)",
            text_keys=("question",),
        ),
        "xstest-safe": Preset(
            ("benign/xstest/xstest_prompts.csv",),
            "benign",
            False,
            "XSTest safe prompts that sound dangerous",
            where={"label": ("safe",)},
        ),
        "xstest-unsafe": Preset(
            ("benign/xstest/xstest_prompts.csv",),
            "benign",
            False,
            "XSTest harmful requests: not injections, scored as benign (over-blocking probe)",
            where={"label": ("unsafe",)},
        ),
        "agentdojo-user-tasks": Preset(
            ("injection/agentdojo/tasks.jsonl",),
            "benign",
            False,
            "AgentDojo benign user tasks",
            where={"kind": ("user_task",)},
        ),
    }
)

GROUPS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "issue-benign": ("self-instruct-eval", "spider-eval", "defog-questions", "xstest-safe"),
        "held-out-attacks": (
            "tasktracker-triggers-test",
            "gptfuzz-short",
            "jailbreakbench-jbc",
            "jailbreakbench-pair",
            "jailbreakbench-gcg",
            "jailbreakbench-dsn",
            "jailbreakbench-random-search",
            "agentdojo-payloads",
        ),
        "trained-attacks": (
            "tasktracker-triggers-train",
            "tasktracker-adaptive",
            "gptfuzz-templates",
        ),
    }
)
