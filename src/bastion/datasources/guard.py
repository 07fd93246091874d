"""The query guard: one model-written SQL statement in, a refusal or a safe rewrite out.

The model is untrusted, so :func:`check` assumes the SQL is hostile and refuses anything
it does not fully understand. It parses with sqlglot in the source's dialect and then:

1. refuses more than one statement, anything but a ``SELECT`` (or a set operation of
   them), MySQL executable comments, ``INTO``, locking clauses, ``WITH RECURSIVE`` and
   every expression class, function, argument and ``CAST`` type not allow-listed in
   :mod:`bastion.datasources._guard_rules`;
2. resolves every table reference (``FROM``, joins, subqueries anywhere, CTE bodies,
   set-operation branches, ``LATERAL``) against the CTEs in scope and then the policy's
   allow-list, and replaces each real one by ``(SELECT <visible columns, masked ones as
   '***'> FROM <table> WHERE <row filter>) AS <alias>``: the model's own ``WHERE ... OR
   1=1`` sits outside that subquery and cannot widen it, and no column it may not see
   is reachable. The same walk, scope by scope, refuses a column that no source in
   its scope (or an enclosing one) may show, comparing names as the dialect does
   (:mod:`bastion.datasources._guard_scope`), so such a statement gets a clear
   ``column_not_allowed`` rather than a database error;
3. caps rows with a ``LIMIT`` on the outermost query (lowering a larger literal one);
4. checks that the rewrite's walk met every table node sqlglot's own walk found: each
   is now replaced or a reference to a CTE in scope (a table the rewrite missed
   refuses the statement instead of being read unfiltered);
5. generates the SQL once from the tree, comments dropped and every identifier quoted
   (so ``user`` is a column, never the session user). When any string, identifier or
   other text in the tree holds a character outside a plain ASCII set (quotes,
   backslashes, ``$``, control or non-ASCII characters: where a dialect's escaping
   could differ), the text must also parse back to itself. Plain text needs no escape,
   so that costly round trip is skipped for it.

The statement is executed as rewritten, never as the model wrote it. Timeouts are the
executor's job (``statement_timeout``, ``max_execution_time``): the guard bounds what
is read, not how long it takes. Postgres must run with ``standard_conforming_strings``
on (the default) and MySQL without ``NO_BACKSLASH_ESCAPES`` nor ``ANSI_QUOTES``, as
sqlglot writes string literals for those settings.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass

from sqlglot import TokenType, exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ErrorLevel, SqlglotError

from bastion.datasources._guard_policy import GuardPolicy
from bastion.datasources._guard_rules import (
    ALLOWED_ARGS,
    ALLOWED_FUNCTIONS,
    ALLOWED_NODES,
    ALLOWED_TYPES,
    DENIED_FUNCTIONS,
    plain_args,
)
from bastion.datasources._guard_rules import Refused as _Refused
from bastion.datasources._guard_scope import resolve

# MySQL and MariaDB run the text of /*! ... */ and /*M! ... */, and /*+ ... */ sets hints.
_EXECUTABLE_COMMENT = re.compile(r"/\*\s*(?:!|\+|M!)", re.IGNORECASE)
_WRITES = (exp.DML, exp.DDL, exp.Command, exp.Copy, exp.Set, exp.Pragma, exp.Transaction)
_ARG_REASONS = {"into": "select_into", "locks": "locking_clause"}
_QUERY_START = frozenset({TokenType.SELECT, TokenType.WITH, TokenType.L_PAREN})
_FILE_WORDS = frozenset({"OUTFILE", "DUMPFILE"})


@dataclass(frozen=True)
class GuardResult:
    """The guard's decision on one statement.

    ``reason`` is ``"ok"`` or a stable refusal code (``multiple_statements``,
    ``not_select``, ``unknown_table``, ``catalog_access``, ``column_not_allowed``,
    ``forbidden_function``, ``forbidden_type``, ``parse_error``, ``into_outfile``,
    ``select_into``, ``recursive_cte``, ``locking_clause``, ``executable_comment``,
    ``unsupported_syntax``, ``too_long``, ``too_complex``, ``internal_error``). ``sql``
    is the rewritten statement to execute (empty when refused); ``tables`` the
    allow-listed tables it reads; ``query_hash`` the SHA-256 of the model's text, for
    the audit log (which never holds the SQL itself).
    """

    allowed: bool
    reason: str
    sql: str
    tables: tuple[str, ...]
    query_hash: str


def _quiet_sqlglot() -> None:
    """sqlglot logs text it falls back on ("... Falling back to parsing as a
    'Command'") and expressions it cannot annotate, quoting the SQL; the model's SQL
    must never reach a log, so its logger is turned off (once, on first use)."""
    logger = logging.getLogger("sqlglot")
    if not logger.disabled:
        logger.disabled = True


def check(sql: str, policy: GuardPolicy) -> GuardResult:
    """Refuse ``sql`` or return it rewritten to read only what ``policy`` allows.

    Never raises on any input text: every failure, including one inside sqlglot, is a
    refusal.
    """
    _quiet_sqlglot()
    digest = hashlib.sha256(sql.encode("utf-8", "surrogatepass")).hexdigest()
    try:
        rewritten, tables = _check(sql, policy)
    except _Refused as refused:
        return GuardResult(False, refused.reason, "", (), digest)
    except RecursionError:
        return GuardResult(False, "too_complex", "", (), digest)
    except Exception:  # fail closed: a bug or sqlglot surprise must refuse, not allow
        return GuardResult(False, "internal_error", "", (), digest)
    return GuardResult(True, "ok", rewritten, tables, digest)


def _check(sql: str, policy: GuardPolicy) -> tuple[str, tuple[str, ...]]:
    if len(sql) > policy.max_sql_chars:
        raise _Refused("too_long")
    if policy.dialect == "mysql" and _EXECUTABLE_COMMENT.search(sql):
        raise _Refused("executable_comment")
    root = _parse_one(sql, policy)
    plain, seen = _validate(root, policy)
    tables, kept = _rewrite_tables(root, policy)
    # The rewrite's own walk must have met every table sqlglot's walk met: each one is
    # now a CTE reference or replaced by its filtered subquery.
    if any(id(table) not in kept and table.parent is not None for table in seen):
        raise _Refused("internal_error")  # pragma: no cover - a table the rewrite missed
    _cap_rows(root, policy.row_cap)
    out = _generate(root, policy)  # consumes the tree: the generator may mutate it
    if not (plain and policy.plain_sources()) and _reparsed(out, policy) != out:
        raise _Refused("internal_error")
    return out, tables


def _reparsed(sql: str, policy: GuardPolicy) -> str:
    return _generate(_parse_one(sql, policy), policy)


def _parse_one(sql: str, policy: GuardPolicy) -> exp.Query:
    """The one ``SELECT`` in ``sql``. Statement count and kind are read off the tokens
    first, so sqlglot never falls back to (and logs) a raw ``Command``."""
    dialect = Dialect.get_or_raise(policy.dialect)
    try:
        tokens = dialect.tokenize(sql)
    except SqlglotError:
        raise _Refused("parse_error") from None
    kinds = [token.token_type for token in tokens]
    while kinds and kinds[-1] is TokenType.SEMICOLON:
        kinds.pop()
    if not kinds:
        raise _Refused("parse_error")
    if TokenType.SEMICOLON in kinds:
        raise _Refused("multiple_statements")
    if kinds[0] not in _QUERY_START:
        raise _Refused("not_select")
    try:
        parsed = dialect.parser(error_level=ErrorLevel.RAISE).parse(tokens, sql)
    except SqlglotError:
        words = {t.text.upper() for t in tokens if t.token_type is not TokenType.STRING}
        raise _Refused("into_outfile" if words & _FILE_WORDS else "parse_error") from None
    statements = [s for s in parsed if s is not None]
    if len(statements) != 1:  # pragma: no cover - the semicolon check above
        raise _Refused("multiple_statements")
    root = statements[0]
    if not isinstance(root, (exp.Select, exp.SetOperation)):
        raise _Refused("not_select")
    return root


def _validate(root: exp.Expr, policy: GuardPolicy) -> tuple[bool, list[exp.Table]]:
    """Refuse what is not allow-listed and normalize identifiers per dialect, in one
    walk. Returns whether all the tree's text is plain, and its table nodes."""
    dialect = Dialect.get_or_raise(policy.dialect)
    plain = True
    tables: list[exp.Table] = []
    verbatim: set[int] = set()  # under a /* sqlglot.meta case_sensitive */ comment
    for node in root.walk():
        kind = type(node)
        if plain:
            plain = plain_args(node)
        if node.meta_get("case_sensitive") or (verbatim and id(node.parent) in verbatim):
            verbatim.add(id(node))
        elif kind is exp.Identifier:
            dialect.normalize_identifier(node)
        elif kind is exp.Table:
            tables.append(node)  # type: ignore[arg-type]
        allowed_args = ALLOWED_ARGS.get(kind)
        if allowed_args is not None:
            for name, value in node.args.items():
                if value not in (None, False, []) and name not in allowed_args:
                    raise _Refused(_ARG_REASONS.get(name, "unsupported_syntax"))
        if kind in ALLOWED_NODES:
            if kind is exp.Select and not node.expressions and not node.args.get("from_"):
                raise _Refused("parse_error")  # a bare SELECT: sqlglot reads it, nothing else
            if isinstance(node, exp.With) and node.args.get("recursive"):
                raise _Refused("recursive_cte")
            if isinstance(node, exp.DataType) and node.this not in ALLOWED_TYPES:
                raise _Refused("forbidden_type")
            continue
        if isinstance(node, exp.Anonymous):
            name = node.name.lower()
            if name in policy.functions and name not in DENIED_FUNCTIONS:
                continue
            raise _Refused("forbidden_function")
        if kind in ALLOWED_FUNCTIONS:
            continue
        raise _Refused(_node_reason(node))
    return plain, tables


def _node_reason(node: exp.Expr) -> str:
    if isinstance(node, exp.Into):
        return "select_into"
    if isinstance(node, exp.Lock):
        return "locking_clause"
    if isinstance(node, exp.ObjectIdentifier):
        return "forbidden_type"
    if isinstance(node, exp.Func):
        return "forbidden_function"
    if isinstance(node, _WRITES):
        return "not_select"
    return "unsupported_syntax"


def _rewrite_tables(root: exp.Query, policy: GuardPolicy) -> tuple[tuple[str, ...], set[int]]:
    """Replace every real table reference by its filtered subquery; see the module doc.
    The scope walk that finds them also refuses a column the model may not see.

    Returns the tables read and the ids of the CTE references, left in place."""
    found = resolve(root, policy)
    for table, key in found.real:
        source = policy.source_sql(key)
        if source is None:  # pragma: no cover - resolve_table only returns known keys
            raise _Refused("unknown_table")
        alias = table.args.get("alias")
        if isinstance(alias, exp.TableAlias):
            table.set("alias", None)  # moved, not copied: the table node is dropped
        else:
            alias = exp.TableAlias(this=exp.to_identifier(table.name))
        # The filtered SELECT is spliced in as the text the policy generated once, with
        # the options of _generate: a Var is written verbatim, inside the parentheses.
        table.replace(exp.Subquery(this=exp.Var(this=source), alias=alias))
    return tuple(sorted({key for _, key in found.real})), found.cte_refs


def _cap_rows(root: exp.Query, row_cap: int) -> None:
    """``LIMIT row_cap`` on the outermost query, or a lower literal one the model set.

    Not ``SELECT * FROM (...) LIMIT``: MySQL may drop a derived table's ``ORDER BY`` and
    refuses its duplicate column names."""
    for name in ("limit", "offset"):
        clause = root.args.get(name)
        if clause is not None and not _int_literal(clause.expression):
            raise _Refused("unsupported_syntax")
    limit = root.args.get("limit")
    if limit is None or int(limit.expression.this) > row_cap:
        root.set("limit", exp.Limit(expression=exp.Literal.number(row_cap)))


def _int_literal(node: exp.Expr | None) -> bool:
    return isinstance(node, exp.Literal) and not node.is_string and node.this.isdigit()


def _generate(root: exp.Expr, policy: GuardPolicy) -> str:
    """The tree's SQL. The tree is not copied first, so it is spent afterwards."""
    return root.sql(
        dialect=policy.dialect,
        copy=False,
        identify=True,
        comments=False,
        unsupported_level=ErrorLevel.RAISE,
    )
