"""What the query guard lets through: expression classes, functions, types, catalogs.

Deny by default: a node of any sqlglot class not listed here refuses the statement.
Functions are sqlglot's typed function classes (``exp.Count``, ``exp.Round``...); a
function sqlglot does not know parses as ``exp.Anonymous`` and is refused unless the
policy names it, and a policy may never name one in :data:`DENIED_FUNCTIONS`.
``version()``, ``current_user`` and the like are refused: they fingerprint the server
and answer no analytic question.
"""

from __future__ import annotations

import re

from sqlglot import exp

# Structure of a read-only query. Functions are in ALLOWED_FUNCTIONS.
ALLOWED_NODES: frozenset[type[exp.Expr]] = frozenset(
    {
        exp.Select,
        exp.Union,
        exp.Intersect,
        exp.Except,
        exp.Subquery,
        exp.From,
        exp.Join,
        exp.Lateral,
        exp.Where,
        exp.Group,
        exp.Having,
        exp.Order,
        exp.Ordered,
        exp.Limit,
        exp.Offset,
        exp.Distinct,
        exp.With,
        exp.CTE,
        exp.Table,
        exp.TableAlias,
        exp.Alias,
        exp.Column,
        exp.Identifier,
        exp.Star,
        exp.Literal,
        exp.Null,
        exp.Boolean,
        exp.Var,
        exp.Paren,
        exp.Tuple,
        exp.Neg,
        exp.Not,
        exp.And,
        exp.Or,
        exp.EQ,
        exp.NEQ,
        exp.GT,
        exp.GTE,
        exp.LT,
        exp.LTE,
        exp.NullSafeEQ,
        exp.NullSafeNEQ,
        exp.Is,
        exp.In,
        exp.Between,
        exp.Like,
        exp.ILike,
        exp.Escape,
        exp.Exists,
        exp.Any,
        exp.All,
        exp.Add,
        exp.Sub,
        exp.Mul,
        exp.Div,
        exp.Mod,
        exp.IntDiv,
        exp.DPipe,
        exp.Case,
        exp.If,
        exp.Cast,
        exp.TryCast,
        exp.DataType,
        exp.DataTypeParam,
        exp.Interval,
        exp.Window,
        exp.WindowSpec,
        exp.Filter,
        exp.WithinGroup,
    }
)

ALLOWED_FUNCTIONS: frozenset[type[exp.Func]] = frozenset(
    {
        # aggregates
        exp.Count,
        exp.Sum,
        exp.Avg,
        exp.Min,
        exp.Max,
        exp.Stddev,
        exp.StddevPop,
        exp.StddevSamp,
        exp.Variance,
        exp.VariancePop,
        exp.GroupConcat,
        exp.PercentileCont,
        exp.PercentileDisc,
        exp.Median,
        # window functions
        exp.RowNumber,
        exp.Rank,
        exp.DenseRank,
        exp.PercentRank,
        exp.CumeDist,
        exp.Ntile,
        exp.Lag,
        exp.Lead,
        exp.FirstValue,
        exp.LastValue,
        exp.NthValue,
        # math
        exp.Abs,
        exp.Round,
        exp.Floor,
        exp.Ceil,
        exp.Sqrt,
        exp.Pow,
        exp.Ln,
        exp.Log,
        exp.Exp,
        exp.Sign,
        exp.Greatest,
        exp.Least,
        # conditionals
        exp.Coalesce,
        exp.Nullif,
        # strings (no REPEAT/LPAD: a few calls can allocate gigabytes)
        exp.Upper,
        exp.Lower,
        exp.Length,
        exp.Substring,
        exp.Trim,
        exp.Concat,
        exp.ConcatWs,
        exp.Left,
        exp.Right,
        exp.StrPosition,
        exp.Initcap,
        # dates
        exp.CurrentDate,
        exp.CurrentTimestamp,
        exp.Extract,
        exp.DateTrunc,
        exp.TimestampTrunc,
        exp.DateAdd,
        exp.DateSub,
        exp.DateDiff,
        exp.Date,
        exp.Year,
        exp.Month,
        exp.Day,
        exp.DayOfWeek,
        exp.ToChar,
        exp.TimeToStr,
        exp.StrToDate,
        exp.StrToTime,
        exp.TsOrDsToDate,
        exp.TsOrDsAdd,
    }
)

# Never callable, even when a policy names them: files, network, processes, server
# administration, time (sleep-based probes) and configuration.
DENIED_FUNCTIONS: frozenset[str] = frozenset(
    {
        "benchmark",
        "current_setting",
        "dblink",
        "dblink_connect",
        "dblink_exec",
        "dblink_open",
        "dblink_send_query",
        "load_file",
        "lo_export",
        "lo_import",
        "pg_cancel_backend",
        "pg_ls_dir",
        "pg_read_binary_file",
        "pg_read_file",
        "pg_reload_conf",
        "pg_sleep",
        "pg_sleep_for",
        "pg_sleep_until",
        "pg_stat_file",
        "pg_terminate_backend",
        "set_config",
        "sleep",
        "sys_eval",
        "sys_exec",
        "load_extension",
        "readfile",
        "writefile",
        "version",
    }
)

# CAST targets. Object-identifier types (regclass...) and user-defined types are refused.
ALLOWED_TYPES: frozenset[exp.DType] = frozenset(
    {
        exp.DType.BIGINT,
        exp.DType.BOOLEAN,
        exp.DType.CHAR,
        exp.DType.DATE,
        exp.DType.DATETIME,
        exp.DType.DECIMAL,
        exp.DType.DOUBLE,
        exp.DType.FLOAT,
        exp.DType.INT,
        exp.DType.INTERVAL,
        exp.DType.NCHAR,
        exp.DType.NVARCHAR,
        exp.DType.SMALLINT,
        exp.DType.TEXT,
        exp.DType.TIME,
        exp.DType.TIMESTAMP,
        exp.DType.TIMESTAMPTZ,
        exp.DType.TINYINT,
        exp.DType.UBIGINT,
        exp.DType.UINT,
        exp.DType.VARCHAR,
    }
)

# Arguments a structural node may carry (any other set argument refuses the query):
# hints, index hints, ONLY, TABLESAMPLE, time travel, INTO, FOR UPDATE, SQL_* modifiers...
ALLOWED_ARGS: dict[type[exp.Expr], frozenset[str]] = {
    exp.Select: frozenset(
        {
            "with_",
            "expressions",
            "distinct",
            "from_",
            "joins",
            "where",
            "group",
            "having",
            "windows",
            "order",
            "limit",
            "offset",
        }
    ),
    exp.Table: frozenset({"this", "db", "catalog", "alias"}),
    exp.Subquery: frozenset({"this", "alias"}),
    exp.Join: frozenset({"this", "on", "side", "kind", "using", "method"}),
    exp.Union: frozenset({"with_", "this", "expression", "distinct", "order", "limit", "offset"}),
    exp.Intersect: frozenset({"with_", "this", "expression", "distinct", "order", "limit"}),
    exp.Except: frozenset({"with_", "this", "expression", "distinct", "order", "limit"}),
    exp.With: frozenset({"expressions", "recursive"}),
    exp.CTE: frozenset({"this", "alias"}),
    exp.Lateral: frozenset({"this", "alias"}),
}

# Schemas and tables of the system catalogs: named as such when refused.
CATALOG_SCHEMAS: frozenset[str] = frozenset(
    {"information_schema", "pg_catalog", "pg_toast", "mysql", "performance_schema", "sys"}
)
CATALOG_PREFIXES: tuple[str, ...] = ("pg_", "sqlite_")

# Text that every dialect writes back verbatim, quoted or not: no quote, backslash, `$`,
# `;`, `#`, bracket, brace, control or non-ASCII character. A statement holding any other
# text (in a literal, an identifier...) must survive the guard's generate/parse round trip.
_PLAIN_TEXT = re.compile(r"[A-Za-z0-9_ .,:+\-*/%=<>()@!?&|^~]*").fullmatch


class Refused(Exception):
    """A refusal: ``reason`` is the stable code the guard reports (see ``GuardResult``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def plain_args(node: exp.Expr) -> bool:
    """Whether every text argument of ``node`` (not its children) is plain."""
    for value in node.args.values():
        if isinstance(value, str) and not _PLAIN_TEXT(value):
            return False
        if isinstance(value, list) and any(
            isinstance(item, str) and not _PLAIN_TEXT(item) for item in value
        ):
            return False
    return True
