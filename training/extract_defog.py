"""Extract defog demo databases into Bastion's dialect-neutral data files.

    .venv/bin/python training/extract_defog.py [DEFOG_ROOT] [--out DIR]

DEFOG_ROOT defaults to /work/shared/data/sql/defog (a copy of defog-ai/defog-data and
defog-ai/sql-eval, see its PROVENANCE.md); --out to ``src/bastion/demo_data``. For each
database in ``DATABASES`` it parses ``databases/<db>/<db>.sql`` (a PostgreSQL dump:
CREATE TABLE + INSERT) with sqlglot and writes ``<db>.json.gz``:

- ``tables``: in dump order, each with columns (name, portable type, nullability,
  primary key, unique, foreign key, description from ``<db>.json``), the rows and
  their count;
- ``questions``: a few of sql-eval's gold questions per dialect, with database-name
  qualifiers removed (``broker.sbCustomer`` -> ``sbCustomer``) so they run on a
  database of any name.

Values are literals (strings, numbers as written, booleans, NULL) or, where the dump
computes them from the load date (``CURRENT_DATE - INTERVAL '8 days'``), a relative
date ``{"now": "date"|"timestamp", "trunc": unit|null, "shift": [[unit, n], ...],
"as": null|"epoch_ms"|"<strftime>"}`` that the loader evaluates against its ``now``:
defog's questions about "the past 30 days" stay answerable. Anything else stops the
run. Output is deterministic (sorted keys, gzip mtime 0); the script prints each
file's SHA-256.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp

REPO = Path(__file__).resolve().parent.parent
DEFAULT_ROOT = Path("/work/shared/data/sql/defog")
DEFAULT_OUT = REPO / "src/bastion/demo_data"
DATABASES = ("broker", "car_dealership")
# sql-eval questions copied per database: (file stem, question text prefix). The files
# hold the same questions per dialect (questions_gen_* is not in the shared copy). None of
# these orders by ``CASE WHEN <aggregate alias> ...``, which MySQL 8 accepts and MariaDB
# refuses (error 1247).
QUESTIONS = {
    "broker": (
        "What are the top 5 countries by total transaction amount in the past 30 days",
        "Return the distinct list of customer IDs who have made a 'buy' transaction",
        "Return the distinct list of ticker IDs that have daily price records",
    ),
    "car_dealership": (
        "Who were the top 3 sales representatives by total revenue in the past 3 months",
        "Return the distinct list of customer IDs that have made a purchase",
        "Return the distinct list of salesperson IDs that have received a cash payment",
    ),
}
QUESTION_FILE = "instruct_basic_{dialect}.csv"
DIALECTS = {"postgresql": "postgres", "mysql": "mysql", "sqlite": "sqlite"}
# broker's dump hands TO_CHAR a MySQL-style format ('%Y%m%d %H:%i:%s'), which sqlglot
# reads with PostgreSQL's patterns as below; the column is documented as
# "yyyyMMdd HH:mm:ss", which is what the data files say instead.
_TO_CHAR_FORMATS = {"%Y%m%%u %H:%i:%s": "%Y%m%d %H:%M:%S"}

_SIMPLE_TYPES = {
    exp.DataType.Type.TEXT: "text",
    exp.DataType.Type.INT: "integer",
    exp.DataType.Type.SERIAL: "integer",
    exp.DataType.Type.BIGINT: "bigint",
    exp.DataType.Type.DATE: "date",
    exp.DataType.Type.TIMESTAMP: "timestamp",
    exp.DataType.Type.BOOLEAN: "boolean",
}


class ExtractError(Exception):
    """The dump holds something this script does not translate."""


def _type(kind: exp.DataType) -> str:
    params = [int(p.this.this) for p in kind.expressions]
    if kind.this in _SIMPLE_TYPES and not params:
        return _SIMPLE_TYPES[kind.this]
    if kind.this == exp.DataType.Type.VARCHAR and len(params) == 1:
        return f"varchar({params[0]})"
    if kind.this == exp.DataType.Type.DECIMAL and len(params) == 2:
        return f"numeric({params[0]},{params[1]})"
    raise ExtractError(f"unsupported column type {kind.sql('postgres')}")


def _column(coldef: exp.ColumnDef) -> dict[str, Any]:
    kind = coldef.args["kind"]
    col: dict[str, Any] = {
        "name": coldef.name,
        "type": _type(kind),
        "nullable": True,
        "primary_key": False,
        "unique": False,
        "references": None,
        "default_now": False,
    }
    for constraint in coldef.constraints:
        c = constraint.kind
        if isinstance(c, exp.PrimaryKeyColumnConstraint):
            col["primary_key"], col["nullable"] = True, False
        elif isinstance(c, exp.NotNullColumnConstraint):
            col["nullable"] = False
        elif isinstance(c, exp.UniqueColumnConstraint):
            col["unique"] = True
        elif isinstance(c, exp.Reference):
            target = c.this
            col["references"] = f"{target.this.name}.{target.expressions[0].name}"
        elif isinstance(c, exp.DefaultColumnConstraint) and isinstance(
            c.this, exp.CurrentTimestamp
        ):
            col["default_now"] = True
        else:
            raise ExtractError(f"unsupported constraint {constraint.sql('postgres')}")
    return col


def _interval(node: exp.Interval) -> tuple[str, int]:
    unit = node.unit.name.lower().rstrip("s")
    n = int(node.this.name)
    if unit == "week":
        return "day", 7 * n
    if unit == "year":
        return "month", 12 * n
    if unit in ("day", "month"):
        return unit, n
    raise ExtractError(f"unsupported interval {node.sql('postgres')}")


def _relative(node: exp.Expression) -> dict[str, Any]:
    """A date computed from now: base, optional truncation, then shifts in order."""
    shift: list[list[Any]] = []
    fmt: str | None = None
    if isinstance(node, exp.Mul) and isinstance(node.this, exp.Extract):
        if node.this.name.upper() != "EPOCH" or node.expression.name != "1000":
            raise ExtractError(f"unsupported expression {node.sql('postgres')}")
        fmt, node = "epoch_ms", node.this.expression
    elif isinstance(node, exp.TimeToStr):
        read = node.args["format"].name
        if read not in _TO_CHAR_FORMATS:
            raise ExtractError(f"unsupported TO_CHAR format {read!r}")
        fmt, node = _TO_CHAR_FORMATS[read], node.this
    while isinstance(node, exp.Add | exp.Sub) and isinstance(node.expression, exp.Interval):
        unit, n = _interval(node.expression)
        shift.insert(0, [unit, -n if isinstance(node, exp.Sub) else n])
        node = node.this
    trunc = None
    if isinstance(node, exp.TimestampTrunc):
        trunc, node = node.unit.name.lower(), node.this
    if isinstance(node, exp.CurrentDate):
        base = "date"
    elif isinstance(node, exp.CurrentTimestamp):
        base = "timestamp"
    else:
        raise ExtractError(f"unsupported expression {node.sql('postgres')}")
    if trunc not in (None, "month", "week"):
        raise ExtractError(f"unsupported truncation {trunc}")
    return {"now": base, "trunc": trunc, "shift": shift, "as": fmt}


def _value(node: exp.Expression) -> Any:
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Literal):
        return node.this  # strings and numbers as written; the loader types them
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal):
        return "-" + str(node.this.this)
    return _relative(node)


def _descriptions(meta_path: Path) -> dict[str, dict[str, str]]:
    meta = json.loads(meta_path.read_text())["table_metadata"]
    return {
        table: {c["column_name"]: c["column_description"] for c in columns}
        for table, columns in meta.items()
    }


def extract_database(root: Path, name: str) -> dict[str, Any]:
    sql = (root / "databases" / name / f"{name}.sql").read_text()
    descriptions = _descriptions(root / "databases" / name / f"{name}.json")
    tables: dict[str, dict[str, Any]] = {}
    for statement in sqlglot.parse(sql, read="postgres"):
        if statement is None:
            continue
        if isinstance(statement, exp.Create) and statement.kind == "TABLE":
            schema = statement.this
            table = schema.this.name
            notes = descriptions.get(table, {})
            columns = [_column(c) for c in schema.expressions]
            for col in columns:
                col["description"] = notes.get(col["name"], "")
            tables[table] = {"name": table, "columns": columns, "rows": []}
        elif isinstance(statement, exp.Insert):
            target = statement.this
            table = target.this.name
            names = [c.name for c in target.expressions]
            columns = tables[table]["columns"]
            by_name = {c["name"].lower(): i for i, c in enumerate(columns)}
            for tup in statement.expression.expressions:
                row: list[Any] = [None] * len(columns)
                given = [by_name[n.lower()] for n in names]
                for i, node in zip(given, tup.expressions, strict=True):
                    row[i] = _value(node)
                for i, col in enumerate(columns):
                    if i not in given and col["default_now"]:
                        row[i] = {"now": "timestamp", "trunc": None, "shift": [], "as": None}
                tables[table]["rows"].append(row)
        else:
            raise ExtractError(f"unsupported statement {statement.sql('postgres')[:60]}")
    for table in tables.values():
        table["row_count"] = len(table["rows"])
    return {
        "name": name,
        "tables": list(tables.values()),
        "questions": _questions(root, name),
    }


def _unqualify(query: str, db: str, dialect: str) -> str:
    tree = sqlglot.parse_one(query, read=dialect)
    qualified = [t for t in tree.find_all(exp.Table) if t.db == db]
    if not qualified:
        return query.strip()
    for table in qualified:
        table.set("db", None)
    return tree.sql(dialect)


def _questions(root: Path, db: str) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for ours, theirs in DIALECTS.items():
        path = root / "questions" / QUESTION_FILE.format(dialect=theirs)
        with path.open(newline="") as f:
            rows = [r for r in csv.DictReader(f) if r["db_name"] == db]
        picked = []
        for prefix in QUESTIONS[db]:
            match = [r for r in rows if r["question"].startswith(prefix)]
            if len(match) != 1:
                raise ExtractError(f"{path.name}: {len(match)} questions start with {prefix!r}")
            query = _unqualify(match[0]["query"], db, theirs)
            picked.append({"question": match[0]["question"], "query": query})
        out[ours] = picked
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", nargs="?", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    for name in DATABASES:
        data = extract_database(args.root, name)
        raw = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
        blob = gzip.compress(raw, compresslevel=9, mtime=0)
        path = args.out / f"{name}.json.gz"
        path.write_bytes(blob)
        counts = {t["name"]: t["row_count"] for t in data["tables"]}
        digest = hashlib.sha256(blob).hexdigest()
        print(f"{path.name}: {len(blob)} bytes sha256 {digest} rows {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
