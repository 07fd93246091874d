"""The query guard's scope walk: every table reference resolved, every column checked.

One walk over the parsed statement, scope by scope, as the database reads it: each
``SELECT`` (a set operation's branch, a subquery, a CTE body, a derived table) sees the
sources of its own ``FROM`` and joins, then those of its enclosing scopes (correlated
references). A ``LATERAL`` body also sees the sources listed before it; a derived
table or CTE body does not see its siblings. Each table reference is resolved against
the CTEs in scope (a CTE body sees the CTEs defined before it), then the policy's
allow-list (see :func:`resolve_table`).

A column is allowed when a source it may come from may show it: for an unqualified
column, some source of its scope or of an enclosing one (or an alias of its own
``SELECT`` list, or a set operation's output name in that operation's ``ORDER BY``);
for a qualified one, the nearest source of that name. A real table shows its visible
columns (all of them when the policy lists none); a CTE or derived table shows the
names it projects (its column list's, its aliases', its columns', the visible columns
behind a ``*``: all when any source behind it shows all). A name nothing may show, a
qualifier nothing defines, or a source the walk does not understand refuses the
statement (once the whole walk is done: a table refusal, such as ``unknown_table`` or
``catalog_access``, names the statement first). What the guard cannot know: a name its
own scope does not show may be a column of an enclosing table the policy shows in
full (a correlated reference), so it is allowed and the database decides. The
filtered subqueries are the real enforcement; this turns what would be a database
error into a clear refusal.

Names are compared as the dialect compares them (:meth:`GuardPolicy.fold_column`):
PostgreSQL keeps a quoted ``"sbCustId"`` as written, so it is not the column
``sbcustid``; MySQL and SQLite column names are case-insensitive.
"""

from __future__ import annotations

from sqlglot import exp

from bastion.datasources._guard_policy import GuardPolicy, table_key
from bastion.datasources._guard_rules import CATALOG_PREFIXES, CATALOG_SCHEMAS, Refused

Names = frozenset[str] | None  # the column names a source may show; None: any
Ctes = dict[str, Names]  # the CTEs in scope, by name: the names each projects

_QUERIES = (exp.Query, exp.Subquery)
_SOURCE_ONLY = (exp.Table, exp.Lateral)


class _Scope:
    __slots__ = ("aliases", "parent", "sources")

    def __init__(self, parent: _Scope | None) -> None:
        self.parent = parent
        self.sources: list[tuple[str, Names]] = []  # (name, what it shows), in order
        self.aliases: Names = frozenset()  # unqualified names of the scope's own outputs


class Resolution:
    """What one walk found: the real table references (to replace by their filtered
    subqueries, with their policy keys) and the ids of the CTE references."""

    __slots__ = ("cte_refs", "hidden", "real")

    def __init__(self) -> None:
        self.real: list[tuple[exp.Table, str]] = []
        self.cte_refs: set[int] = set()
        self.hidden = False  # a column no source may show was met


def resolve(root: exp.Query, policy: GuardPolicy) -> Resolution:
    """Resolve every table reference of ``root`` and check every column, or refuse."""
    walker = _Walker(policy)
    walker.query(root, None, {})
    if walker.found.hidden:
        raise Refused("column_not_allowed")
    return walker.found


def resolve_table(table: exp.Table, ctes: Ctes, policy: GuardPolicy) -> str | None:
    """The policy key of a real table, or ``None`` for a CTE in scope; refuses others."""
    if not isinstance(table.this, exp.Identifier):
        raise Refused("unsupported_syntax")
    qualified = bool(table.args.get("db") or table.args.get("catalog"))
    if not qualified and table.name in ctes:
        return None
    key = table_key(table)
    if policy.knows(key):
        return key
    parts = [part.name.lower() for part in table.parts]
    if parts[0] in CATALOG_SCHEMAS or parts[-1].startswith(CATALOG_PREFIXES):
        raise Refused("catalog_access")
    raise Refused("unknown_table")


class _Walker:
    __slots__ = ("fold", "found", "policy")

    def __init__(self, policy: GuardPolicy) -> None:
        self.policy = policy
        self.fold = policy.fold_column
        self.found = Resolution()

    def query(self, node: exp.Expr, parent: _Scope | None, ctes: Ctes) -> Names:
        """Walk one query (its CTEs, branches, subqueries); returns the names it projects."""
        while isinstance(node, exp.Subquery):
            node = node.this
        with_ = node.args.get("with_")
        if isinstance(with_, exp.With):
            ctes = dict(ctes)
            for cte in with_.expressions:
                names = self.query(cte.this, parent, ctes)
                ctes[cte.alias] = self._renamed(names, cte.args.get("alias"))
        if isinstance(node, exp.Select):
            return self._select(node, parent, ctes)
        if isinstance(node, exp.SetOperation):
            names = self.query(node.this, parent, ctes)
            self.query(node.expression, parent, ctes)
            # Its ORDER BY names the output columns, which are the first branch's.
            scope = _Scope(parent)
            scope.aliases = names
            for name, value in node.args.items():
                if name not in ("with_", "this", "expression"):
                    self._walk(value, scope, ctes)
            return names
        raise Refused("unsupported_syntax")

    def _select(self, node: exp.Select, parent: _Scope | None, ctes: Ctes) -> Names:
        scope = _Scope(parent)
        from_ = node.args.get("from_")
        joins: list[exp.Join] = node.args.get("joins") or []
        if from_ is not None:
            self._source(from_.this, scope, ctes)
        joined = [self._source(join.this, scope, ctes) for join in joins]
        fold = self.fold
        scope.aliases = frozenset(
            fold(item.alias) for item in node.expressions if isinstance(item, exp.Alias)
        )
        for name, value in node.args.items():
            if name in ("with_", "from_"):
                continue
            if name != "joins":
                self._walk(value, scope, ctes)
                continue
            for join, shown in zip(joins, joined, strict=True):
                for arg, item in join.args.items():
                    if arg == "using":
                        self._using(item, shown, scope, ctes)
                    elif arg != "this":
                        self._walk(item, scope, ctes)
        return self._projected(node, scope)

    def _source(self, node: exp.Expr, scope: _Scope, ctes: Ctes) -> Names:
        """Register one ``FROM`` or join item of ``scope`` (walking its query, if any);
        returns what it shows."""
        names = self._shown(node, scope, ctes)
        named = node
        while isinstance(named, exp.Subquery) and not named.alias:  # (orders): orders
            named = named.this
        scope.sources.append((named.alias_or_name, names))
        return names

    def _shown(self, node: exp.Expr, scope: _Scope, ctes: Ctes) -> Names:
        names: Names
        if isinstance(node, exp.Table):
            key = resolve_table(node, ctes, self.policy)
            if key is None:
                self.found.cte_refs.add(id(node))
                names = ctes[node.name]
            else:
                self.found.real.append((node, key))
                names = self.policy.column_names(key)
        elif isinstance(node, exp.Subquery):  # a derived table: no sibling in sight
            inner = node.this
            if isinstance(inner, (exp.Table, exp.Subquery)):
                names = self._shown(inner, scope, ctes)
            else:
                names = self.query(inner, scope.parent, ctes)
        elif isinstance(node, exp.Lateral):  # sees the sources listed before it
            names = self.query(node.this, scope, ctes)
        else:
            raise Refused("unsupported_syntax")
        return self._renamed(names, node.args.get("alias"))

    def _renamed(self, names: Names, alias: exp.Expr | None) -> Names:
        """``names`` with an alias's column list (``AS t(a, b)``) added: a superset,
        as the list renames the first columns and the rest keep their names."""
        if names is None or not isinstance(alias, exp.TableAlias) or not alias.columns:
            return names
        return names | {self.fold(column.name) for column in alias.columns}

    def _using(self, items: list[exp.Expr], shown: Names, scope: _Scope, ctes: Ctes) -> None:
        """``JOIN ... USING (a)``: the joined source must show ``a`` (and the database
        checks that one before it does)."""
        for item in items:
            if not isinstance(item, exp.Identifier):
                self._walk(item, scope, ctes)
            elif shown is not None and self.fold(item.name) not in shown:
                raise Refused("column_not_allowed")

    def _walk(self, value: object, scope: _Scope, ctes: Ctes) -> None:
        """Check the columns of an expression of ``scope``; walk its subqueries."""
        stack = [value]
        while stack:
            node = stack.pop()
            if isinstance(node, list):
                stack.extend(node)
            elif not isinstance(node, exp.Expr):
                continue
            elif isinstance(node, exp.Column):
                self._column(node, scope)
            elif isinstance(node, _QUERIES):
                self.query(node, scope, ctes)
            elif isinstance(node, _SOURCE_ONLY):
                raise Refused("unsupported_syntax")  # a table outside FROM and joins
            else:
                stack.extend(node.args.values())

    def _column(self, column: exp.Column, scope: _Scope) -> None:
        qualifier = column.table
        if isinstance(column.this, exp.Star):
            if qualifier and not self._named(scope, qualifier):
                self.found.hidden = True
            return
        name = self.fold(column.name)
        if qualifier:
            if any(shown is None or name in shown for shown in self._named(scope, qualifier)):
                return
            self.found.hidden = True
            return
        if scope.aliases is None or name in scope.aliases:
            return
        current: _Scope | None = scope
        while current is not None:
            for _, shown in current.sources:
                if shown is None or name in shown:
                    return
            current = current.parent
        self.found.hidden = True

    @staticmethod
    def _named(scope: _Scope, qualifier: str) -> list[Names]:
        """What the nearest sources named ``qualifier`` show; none: an empty list.
        An exact match first; then ignoring case (MySQL may be set to fold names)."""
        for exact in (True, False):
            wanted = qualifier if exact else qualifier.lower()
            current: _Scope | None = scope
            while current is not None:
                found = [
                    shown
                    for name, shown in current.sources
                    if (name if exact else name.lower()) == wanted
                ]
                if found:
                    return found
                current = current.parent
        return []

    def _projected(self, node: exp.Select, scope: _Scope) -> Names:
        """The names a ``SELECT`` projects: an expression with no alias and no column
        name is left out (nothing can name it reliably)."""
        names: set[str] = set()
        for item in node.expressions:
            if isinstance(item, exp.Alias):
                names.add(self.fold(item.alias))
            elif isinstance(item, exp.Star):
                for _, shown in scope.sources:
                    if shown is None:
                        return None
                    names |= shown
            elif isinstance(item, exp.Column) and isinstance(item.this, exp.Star):
                for shown in self._named(scope, item.table):
                    if shown is None:
                        return None
                    names |= shown
            elif isinstance(item, exp.Column):
                names.add(self.fold(item.name))
        return frozenset(names)
