"""The JQL subset the test server understands: field-op-value clauses joined by AND, ORDER BY."""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

FIELD_ALIASES = {
    "issuekey": "key",
    "key": "key",
    "id": "id",
    "labels": "labels",
    "project": "project",
    "updated": "updated",
    "updateddate": "updated",
    "created": "created",
    "createddate": "created",
    "status": "status",
    "resolution": "resolution",
}
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<op>>=|<=|!=|!~|=|>|<|~)
      | (?P<punct>[(),])
      | (?P<word>[^\s"'(),=<>!~]+)
    )""",
    re.VERBOSE,
)
_RELATIVE = re.compile(r"^(?P<sign>[-+]?)(?P<amount>\d+)(?P<unit>[mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DATE_FORMATS = ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d")


class JqlError(ValueError):
    """A query the test server cannot (or real Jira would not) accept."""


@dataclass(frozen=True)
class Clause:
    """field op values; op is one of = != > >= < <= in, not in, is, is not."""

    field: str
    op: str
    values: tuple[str | None, ...]


@dataclass(frozen=True)
class Query:
    """Clauses to AND together and the requested order ((field, descending) pairs)."""

    clauses: tuple[Clause, ...]
    order_by: tuple[tuple[str, bool], ...]


@dataclass
class _Tokens:
    items: list[tuple[str, str]]
    pos: int = 0

    def peek(self) -> tuple[str, str] | None:
        return self.items[self.pos] if self.pos < len(self.items) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise JqlError("Error in the JQL Query: the query ended unexpectedly.")
        self.pos += 1
        return token

    def keyword(self, *words: str) -> bool:
        token = self.peek()
        if token is not None and token[0] == "word" and token[1].lower() in words:
            self.pos += 1
            return True
        return False


def _tokenize(text: str) -> _Tokens:
    items: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise JqlError(f"Error in the JQL Query: unexpected character at position {pos}.")
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "string":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        items.append((kind, value))
        pos = match.end()
    return _Tokens(items)


def _value(tokens: _Tokens) -> str | None:
    kind, value = tokens.take()
    if kind == "word" and value.lower() in ("empty", "null"):
        return None
    if kind not in ("string", "word"):
        raise JqlError(f"Error in the JQL Query: expecting a value but got '{value}'.")
    return value


def _clause(tokens: _Tokens) -> Clause:
    kind, name = tokens.take()
    if kind == "punct" and name == "(":
        raise JqlError("Error in the JQL Query: parentheses are not supported by the test server.")
    if kind not in ("word", "string"):
        raise JqlError(f"Error in the JQL Query: expecting a field name but got '{name}'.")
    field = FIELD_ALIASES.get(name.lower())
    if field is None:
        raise JqlError(f"Field '{name}' does not exist or you do not have permission to view it.")
    if tokens.keyword("not"):
        if not tokens.keyword("in"):
            raise JqlError("Error in the JQL Query: expecting 'in' after 'not'.")
        return Clause(field, "not in", _list(tokens))
    if tokens.keyword("in"):
        return Clause(field, "in", _list(tokens))
    if tokens.keyword("is"):
        op = "is not" if tokens.keyword("not") else "is"
        value = _value(tokens)
        if value is not None:
            raise JqlError("Error in the JQL Query: 'is' only takes EMPTY or NULL.")
        return Clause(field, op, (None,))
    kind, op = tokens.take()
    if kind != "op" or op in ("~", "!~"):
        raise JqlError(f"Error in the JQL Query: unsupported operator '{op}'.")
    return Clause(field, op, (_value(tokens),))


def _list(tokens: _Tokens) -> tuple[str | None, ...]:
    if tokens.take() != ("punct", "("):
        raise JqlError("Error in the JQL Query: expecting '(' to start a list.")
    values: list[str | None] = [_value(tokens)]
    while True:
        kind, value = tokens.take()
        if (kind, value) == ("punct", ")"):
            return tuple(values)
        if (kind, value) != ("punct", ","):
            raise JqlError(f"Error in the JQL Query: expecting ',' or ')' but got '{value}'.")
        values.append(_value(tokens))


def parse_jql(text: str) -> Query:
    """Parse the supported subset; anything else is a JqlError (HTTP 400, like real Jira)."""
    tokens = _tokenize(text)
    clauses: list[Clause] = []
    order: list[tuple[str, bool]] = []
    if tokens.peek() is not None and not _at_order(tokens):
        clauses.append(_clause(tokens))
        while tokens.peek() is not None and not _at_order(tokens):
            if tokens.keyword("or"):
                raise JqlError("Error in the JQL Query: OR is not supported by the test server.")
            if not tokens.keyword("and"):
                raise JqlError(
                    f"Error in the JQL Query: expecting AND but got '{tokens.take()[1]}'."
                )
            clauses.append(_clause(tokens))
    if tokens.keyword("order"):
        if not tokens.keyword("by"):
            raise JqlError("Error in the JQL Query: expecting 'by' after 'order'.")
        while True:
            kind, name = tokens.take()
            field = FIELD_ALIASES.get(name.lower())
            if kind != "word" or field is None:
                raise JqlError(f"Not able to sort using field '{name}'.")
            descending = tokens.keyword("desc")
            if not descending:
                tokens.keyword("asc")
            order.append((field, descending))
            if tokens.peek() != ("punct", ","):
                break
            tokens.take()
    if tokens.peek() is not None:
        raise JqlError(f"Error in the JQL Query: unexpected '{tokens.take()[1]}'.")
    return Query(tuple(clauses), tuple(order))


def _at_order(tokens: _Tokens) -> bool:
    token = tokens.peek()
    return token is not None and token[0] == "word" and token[1].lower() == "order"


def parse_jql_datetime(value: str, zone: tzinfo, now: datetime) -> datetime:
    """A JQL date ("yyyy-MM-dd HH:mm", "yyyy/MM/dd", "-5m") read in the user's time zone."""
    relative = _RELATIVE.match(value.strip())
    if relative:
        delta = timedelta(**{_UNITS[relative["unit"]]: int(relative["amount"])})
        return now - delta if relative["sign"] == "-" else now + delta
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(value.strip(), fmt).replace(tzinfo=zone)
        except ValueError:
            continue
    raise JqlError(
        f"Date value '{value}' for field 'updated' is invalid. Valid formats include: "
        "'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format"
    )
