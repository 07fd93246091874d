"""Labeled text sets for evaluating detectors: files, ``PATH[:label]`` specs and presets.

Every loader yields :class:`Example` ``(text, label)`` with ``label`` either
``"attack"`` or ``"benign"``. Formats, by file extension:

- ``.jsonl``: one JSON object per line; the text is the first of ``text``, ``prompt``,
  ``question`` present; the label comes from ``label`` (see :data:`LABEL_VALUES`)
  unless the spec gives one;
- ``.csv``: a header row, same column names as JSON Lines;
- ``.txt``: one example per non-empty line; the spec must give the label;
- ``.json``: a list of strings or objects, or an object mapping categories to lists
  of strings (BIPIA's attack files);
- ``.yaml``: a list of objects (Lakera PINT's format; needs PyYAML).

A spec is a preset name (:data:`PRESETS`, relative to the data root, default
``/work/shared/data``), a group of presets (:data:`GROUPS`), or ``PATH[:attack|benign]``.
Error messages name files, rows and fields, never the texts.
"""

from __future__ import annotations

import csv
import importlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bastion.evaluation._presets import GROUPS, PRESETS, Preset, is_train_half

__all__ = [
    "GROUPS",
    "LABEL_VALUES",
    "PRESETS",
    "Dataset",
    "DatasetError",
    "Example",
    "Label",
    "load_file",
    "load_preset",
    "resolve",
]

Label = Literal["attack", "benign"]
TEXT_KEYS = ("text", "prompt", "question")
LABEL_VALUES: Mapping[str, Label] = {
    "1": "attack",
    "true": "attack",
    "attack": "attack",
    "injection": "attack",
    "prompt_injection": "attack",
    "jailbreak": "attack",
    "jailbreak_attempt": "attack",
    "malicious": "attack",
    "0": "benign",
    "false": "benign",
    "benign": "benign",
    "safe": "benign",
    "benign_user_request": "benign",
}


class DatasetError(ValueError):
    """A dataset spec or file cannot be read; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    label: Label

    def __repr__(self) -> str:  # never print the text
        return f"Example(label={self.label!r}, chars={len(self.text)})"


@dataclass(frozen=True, slots=True)
class Dataset:
    name: str
    examples: tuple[Example, ...] = field(repr=False)

    @property
    def attacks(self) -> int:
        return sum(1 for example in self.examples if example.label == "attack")

    @property
    def benign(self) -> int:
        return len(self.examples) - self.attacks


def _label_of(raw: object, where: str) -> Label:
    key = str(raw).strip().lower()
    label = LABEL_VALUES.get(key)
    if label is None:
        raise DatasetError(
            f"{where}: unknown label value {key[:40]!r}; give the label in the spec "
            "(PATH:attack or PATH:benign) or use one of " + ", ".join(sorted(LABEL_VALUES))
        )
    return label


def _rows(path: Path) -> Iterator[Any]:
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except ValueError as exc:
                        raise DatasetError(f"{path}:{number}: not valid JSON") from exc
    elif suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as handle:
            yield from csv.DictReader(handle)
    elif suffix == ".txt":
        with path.open(encoding="utf-8") as handle:
            yield from (line.rstrip("\n") for line in handle if line.strip())
    elif suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict):
            for values in data.values():
                yield from values if isinstance(values, list) else [values]
        elif isinstance(data, list):
            yield from data
        else:
            raise DatasetError(f"{path}: expected a JSON list or object")
    elif suffix in (".yaml", ".yml"):
        try:
            yaml = importlib.import_module("yaml")
        except ImportError as exc:
            raise DatasetError(f"{path}: reading YAML needs PyYAML (pip install pyyaml)") from exc
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(data, list):
            raise DatasetError(f"{path}: expected a YAML list of objects")
        yield from data
    else:
        raise DatasetError(f"{path}: unsupported extension (use .jsonl .csv .txt .json .yaml)")


def _text_of(row: Mapping[str, Any], keys: Iterable[str], where: str) -> str:
    for key in keys:
        value = row.get(key)
        if isinstance(value, str):
            return value
    raise DatasetError(f"{where}: no text field (looked for {', '.join(keys)})")


def load_file(
    path: Path,
    label: Label | None = None,
    *,
    text_keys: tuple[str, ...] = TEXT_KEYS,
    label_key: str = "label",
    where: Mapping[str, tuple[str, ...]] | None = None,
) -> list[Example]:
    """The examples of one file. ``label`` overrides per-row labels; ``where`` keeps rows
    whose field (as a string) is one of the given values."""
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    examples: list[Example] = []
    for number, row in enumerate(_rows(path), 1):
        at = f"{path}: row {number}"
        if isinstance(row, str):
            if label is None:
                raise DatasetError(f"{at}: plain-text rows need a label in the spec")
            examples.append(Example(row, label))
            continue
        if not isinstance(row, dict):
            raise DatasetError(f"{at}: expected an object or a string")
        if where and any(str(row.get(k)) not in allowed for k, allowed in where.items()):
            continue
        text = _text_of(row, text_keys, at)
        examples.append(Example(text, label or _label_of(row.get(label_key), at)))
    return examples


def _fill_templates(templates: list[Example], questions: list[Example]) -> list[Example]:
    """GPTFuzz templates with ``[INSERT PROMPT HERE]`` filled by question ``i mod n``."""
    marker = "[INSERT PROMPT HERE]"
    return [
        Example(t.text.replace(marker, questions[i % len(questions)].text), t.label)
        for i, t in enumerate(templates)
    ]


def load_preset(preset: Preset, root: Path) -> list[Example]:
    examples: list[Example] = []
    for relative in preset.files:
        examples.extend(
            load_file(
                root / relative,
                preset.label,
                text_keys=preset.text_keys,
                where=preset.where,
            )
        )
    if preset.half is not None:
        keep = preset.half == "train"
        examples = [e for e in examples if is_train_half(e.text) == keep]
    if preset.questions is not None:
        questions = load_file(root / preset.questions, "benign")
        examples = _fill_templates(examples, questions)
    return examples


def resolve(spec: str, root: Path) -> list[Dataset]:
    """The datasets a ``--dataset`` spec names (a group expands to several)."""
    if spec in GROUPS:
        return [ds for name in GROUPS[spec] for ds in resolve(name, root)]
    preset = PRESETS.get(spec)
    if preset is not None:
        return [Dataset(spec, tuple(load_preset(preset, root)))]
    path_part, _, label_part = spec.rpartition(":")
    label: Label | None = None
    if path_part and label_part in ("attack", "benign"):
        label = "attack" if label_part == "attack" else "benign"
    else:
        path_part = spec
    path = Path(path_part)
    if not path.exists():
        known = ", ".join(sorted([*PRESETS, *GROUPS]))
        raise DatasetError(f"{spec!r} is neither a file nor a preset (presets: {known})")
    return [Dataset(path.name + (f":{label}" if label else ""), tuple(load_file(path, label)))]
