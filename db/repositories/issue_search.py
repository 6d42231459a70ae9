"""The issues' full-text index behind the list's `q=`: SQLite keeps it in FTS5
(`issues_fts`, its rowid the issue row's), PostgreSQL in `issues.search_document` (tsvector
under a GIN index).

`title ILIKE '%word%'` reads every row, and PostgreSQL misjudges how many match, so a rare
word cost 11-36x more at 100k issues than at 1k (bench/read_model.py). The index holds the
words of the title and the description:

- English words in their Snowball stem (as the knowledge base stems them) and, where it
  differs, as written: "routers" finds "router"; a word ending in `*` is a prefix of words as
  written ("config*" finds "configuration"), as in Jira's text search;
- Chinese as its single characters and every pair of adjacent ones, so a query is the pairs
  it contains and 丢包 finds 升级后丢包 whichever way a segmenter would cut that phrase
  (jieba cuts it 丢 / 包 there, and 丢包 alone).

Every query word must match. A query with no indexable word (only punctuation or stop
words) falls back to the substring match on the title, and a query that is an issue id finds
that issue.

Whole words keep the planners' estimates right: PostgreSQL knows how common a word is from
the column's statistics (a prefix gets a fixed guess), and picks the GIN index for a rare
word but walks the list's sort index for a common one. SQLite has no such estimate, so the
query first counts the matches in FTS5, stopping after FEW_MATCHES: few, and it collects
them from the index; many, and it walks the sort index testing each row by rowid.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import snowballstemmer
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import ISSUE_SEARCH_TABLE, IssueRow
from domain.knowledge import MAX_QUERY_TERMS, STOPWORDS

FEW_MATCHES = 1000
"""Up to this many matching issues, SQLite collects the matches from FTS5; beyond it, a page
of the list is found sooner by walking the sort order and testing each row."""

_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
# Latin words as domain.knowledge splits them (versions like 5.2.1 and ids like ab-12 whole).
_LATIN = re.compile(r"[0-9a-z]+(?:[._-][0-9a-z]+)*")
_QUERY_WORD = re.compile(r"[0-9a-z]+(?:[._-][0-9a-z]+)*(\*?)")
_ENGLISH = snowballstemmer.stemmer("english")


def _stem(word: str) -> str:
    return word if word[0].isdigit() else _ENGLISH.stemWord(word)


def _pairs(run: str) -> list[str]:
    return [run[i : i + 2] for i in range(len(run) - 1)]


def indexed_words(text: str) -> str:
    """The words the index stores for a text, space-separated."""
    words: list[str] = []
    for word in _LATIN.findall(_HAN.sub(" ", text.lower())):
        if word in STOPWORDS:
            continue
        stem = _stem(word)
        words += [stem] if stem == word else [stem, word]
    for run in _HAN.findall(text):
        words += [*run, *_pairs(run)]
    return " ".join(words)


@dataclass(frozen=True)
class QueryWord:
    text: str
    prefix: bool  # matches words starting with `text` (as written), else the whole word


def query_words(text: str) -> list[QueryWord]:
    """A query's distinct words, at most MAX_QUERY_TERMS (a pasted page stays cheap)."""
    words: dict[QueryWord, None] = {}
    latin = _HAN.sub(" ", text.lower())
    for match in _QUERY_WORD.finditer(latin):
        word, star = match.group(0).rstrip("*"), match.group(1)
        if star:
            words.setdefault(QueryWord(word, prefix=True), None)
        elif word not in STOPWORDS:
            words.setdefault(QueryWord(_stem(word), prefix=False), None)
    for run in _HAN.findall(text):
        for pair in _pairs(run) or [run]:
            words.setdefault(QueryWord(pair, prefix=False), None)
    return list(words)[:MAX_QUERY_TERMS]


async def index_issue_texts(session: AsyncSession, items: Sequence[tuple[str, str, str]]) -> None:
    """Index (issue id, title, description) triples; each issue once, right after its row is
    inserted (the title and the description never change afterwards)."""
    if not items:
        return
    documents = [
        {"issue_id": issue_id, "words": indexed_words(f"{title}\n{description}")}
        for issue_id, title, description in items
    ]
    if session.get_bind().dialect.name == "postgresql":
        table = sa.table("issues", sa.column("id"), sa.column("search_document"))
        statement = (
            sa.update(table)
            .where(table.c.id == sa.bindparam("issue_id"))
            .values(
                search_document=sa.func.to_tsvector(
                    "simple", sa.bindparam("words", type_=sa.Text())
                )
            )
        )
        await session.execute(statement, documents)
        return
    await session.execute(sa.text(SQLITE_INDEX_STATEMENT), documents)


SQLITE_INDEX_STATEMENT = (
    f"INSERT INTO {ISSUE_SEARCH_TABLE} (rowid, issue_id, words) "
    "SELECT rowid, id, :words FROM issues WHERE id = :issue_id"
)
"""The FTS5 row shares the issue row's rowid, so a row is tested by rowid (see above)."""


async def forget_issue_texts(session: AsyncSession) -> None:
    """Empty SQLite's index (tests and benchmarks that delete every issue row; PostgreSQL's
    index lives in the rows themselves)."""
    if session.get_bind().dialect.name != "postgresql":
        await session.execute(sa.text(f"DELETE FROM {ISSUE_SEARCH_TABLE}"))


async def text_match(session: AsyncSession, text: str) -> Any:
    """The WHERE clause of a `q=` search."""
    stripped = text.strip()
    by_id = IssueRow.id == stripped.upper()
    words = query_words(stripped)
    if not words:
        return sa.or_(by_id, IssueRow.title.icontains(stripped, autoescape=True))
    if session.get_bind().dialect.name == "postgresql":
        # Every word quoted: no tsquery syntax reaches PostgreSQL from users.
        expression = " & ".join(
            "'" + w.text.replace("'", "''") + ("':*" if w.prefix else "'") for w in words
        )
        return sa.or_(
            by_id, IssueRow.search_document.op("@@")(sa.func.to_tsquery("simple", expression))
        )
    expression = " AND ".join(
        '"' + w.text.replace('"', '""') + ('"*' if w.prefix else '"') for w in words
    )
    fts = sa.table(ISSUE_SEARCH_TABLE, sa.column("rowid"), sa.column("issue_id"))
    matches = sa.literal_column(ISSUE_SEARCH_TABLE).op("MATCH")(expression)
    if await _matches_up_to(session, expression, FEW_MATCHES) <= FEW_MATCHES:
        return sa.or_(by_id, IssueRow.id.in_(sa.select(fts.c.issue_id).where(matches)))
    row: Any = sa.literal_column("issues.rowid")
    tested = sa.exists(sa.select(sa.literal(1)).select_from(fts).where(matches, fts.c.rowid == row))
    return sa.or_(by_id, tested)


async def _matches_up_to(session: AsyncSession, expression: str, bound: int) -> int:
    """How many issues match, counting no further than `bound` (so it costs at most that)."""
    fts = sa.table(ISSUE_SEARCH_TABLE, sa.column("rowid"))
    probe = (
        sa.select(fts.c.rowid)
        .where(sa.literal_column(ISSUE_SEARCH_TABLE).op("MATCH")(expression))
        .limit(bound + 1)
        .subquery()
    )
    return int(await session.scalar(sa.select(sa.func.count()).select_from(probe)) or 0)
