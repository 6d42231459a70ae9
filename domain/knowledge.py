"""The knowledge base's rules (KCS): article states, who may move an article where, what a
customer may read, and how text is prepared for search in English and Chinese.

Pure: no I/O, no clock; the repository and the API service apply these rules.
"""

import re
from datetime import datetime, timedelta
from enum import StrEnum

import rjieba
import snowballstemmer
from pydantic import BaseModel, ConfigDict

from domain.enums import Role


class ArticleState(StrEnum):
    """KCS article states: work in progress, usable internally, trusted, retired."""

    DRAFT = "draft"
    NOT_VALIDATED = "not_validated"
    VALIDATED = "validated"
    ARCHIVED = "archived"


class ArticleKind(StrEnum):
    """A known error waits for (or documents) an R&D fix; a solution answers a question."""

    KNOWN_ERROR = "known_error"
    SOLUTION = "solution"
    HOW_TO = "how_to"


class Audience(StrEnum):
    """Internal articles stay with staff; customer articles appear in the portal once validated."""

    INTERNAL = "internal"
    CUSTOMER = "customer"


class ArticleLinkKind(StrEnum):
    """Why an issue is linked to an article: it was written from it, or solved with it."""

    SOURCE = "source"
    SOLVED_WITH = "solved_with"


class PromptKind(StrEnum):
    """What the knowledge base asks an engineer to do (the workspace lists open prompts)."""

    CAPTURE_RESOLUTION = "capture_resolution"  # link an article or draft one from the issue
    REVIEW_FIXED_VERSION = "review_fixed_version"  # R&D fixed the defect; check the article
    CONSIDER_ARCHIVING = "consider_archiving"  # nobody used the article for a long time


STAFF_ROLES = frozenset({Role.ENGINEER, Role.MANAGER, Role.ADMIN})
REVIEWER_ROLES = frozenset({Role.MANAGER, Role.ADMIN})

# Who may move an article from one state to another. Engineers write and publish for
# internal use (KCS "not validated" is usable by staff); validating makes it trusted (and,
# for customer articles, public), so it is a reviewer's decision, as archiving is.
TRANSITIONS: dict[tuple[ArticleState, ArticleState], frozenset[Role]] = {
    (ArticleState.DRAFT, ArticleState.NOT_VALIDATED): STAFF_ROLES,
    (ArticleState.NOT_VALIDATED, ArticleState.DRAFT): STAFF_ROLES,
    (ArticleState.NOT_VALIDATED, ArticleState.VALIDATED): REVIEWER_ROLES,
    (ArticleState.DRAFT, ArticleState.VALIDATED): REVIEWER_ROLES,
    (ArticleState.VALIDATED, ArticleState.NOT_VALIDATED): STAFF_ROLES,
    (ArticleState.DRAFT, ArticleState.ARCHIVED): REVIEWER_ROLES,
    (ArticleState.NOT_VALIDATED, ArticleState.ARCHIVED): REVIEWER_ROLES,
    (ArticleState.VALIDATED, ArticleState.ARCHIVED): REVIEWER_ROLES,
    (ArticleState.ARCHIVED, ArticleState.NOT_VALIDATED): REVIEWER_ROLES,
}


class TransitionRefused(Exception):
    """The move is not part of the KCS states, or the caller's role may not make it."""

    def __init__(self, reason: str, *, forbidden: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.forbidden = forbidden


def check_transition(current: ArticleState, target: ArticleState, role: Role) -> None:
    """Raise TransitionRefused (forbidden=True for a role problem) unless the move is allowed."""
    if current == target:
        raise TransitionRefused(f"the article is already {current.value}", forbidden=False)
    allowed = TRANSITIONS.get((current, target))
    if allowed is None:
        raise TransitionRefused(
            f"an article cannot go from {current.value} to {target.value}", forbidden=False
        )
    if role not in allowed:
        names = ", ".join(sorted(r.value for r in allowed))
        raise TransitionRefused(
            f"role '{role.value}' cannot move an article from {current.value} to "
            f"{target.value} (allowed: {names})",
            forbidden=True,
        )


def customer_may_read(state: ArticleState, audience: Audience) -> bool:
    """Customers only ever see trusted articles written for them."""
    return state == ArticleState.VALIDATED and audience == Audience.CUSTOMER


# --- text for search ----------------------------------------------------------------------

_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[0-9a-z]+(?:[._-][0-9a-z]+)*|[\u3400-\u9fff\uf900-\ufaff]+")
MAX_QUERY_TERMS = 32

# Words that carry no meaning for matching; kept short on purpose (ranking already weighs
# frequent words down), they mainly keep "how do I" from matching every article.
STOPWORDS = frozenset(
    (  # noqa: SIM905 - one word list reads better than a hundred quoted strings
        "a an and are as at be but by can do does for from has have how i if in is it its "
        "me my not of on or our so that the their them then there this to was we were "
        "what when where which why will with you your after before since again still get "
        "gets got "
        "的 了 在 是 我 我们 你 您 他 她 它 和 与 及 或 也 都 就 "
        "而 被 把 让 给 对 从 后 时 中 上 下 吗 呢 吧 啊 怎么 如何 "
        "为什么 什么 一个 这个 那个 没有 不 会 能 可以 要 请 问 "
        "请问 之后 以后 时候 出现 问题 "
    ).split()
)


_ENGLISH = snowballstemmer.stemmer("english")


def has_chinese(text: str) -> bool:
    return _HAN.search(text) is not None


def search_terms(text: str) -> list[str]:
    """The words of a text as the index stores them: lower-cased Latin words stemmed by
    Snowball (drops, dropping -> drop; versions like 5.2.1 kept whole) and Chinese
    segmented by jieba in search mode (路由器 also yields 路由), stop words dropped,
    in order of appearance, duplicates kept (term frequency counts)."""
    terms: list[str] = []
    for chunk in _WORD.findall(text.lower()):
        if _HAN.match(chunk):
            words = rjieba.cut_for_search(chunk)
            terms.extend(word for word in words if word.strip() and word not in STOPWORDS)
        elif chunk not in STOPWORDS:
            terms.append(chunk if chunk[0].isdigit() else _ENGLISH.stemWord(chunk))
    return terms


def query_terms(text: str) -> list[str]:
    """Distinct search terms of a query, at most MAX_QUERY_TERMS (a pasted page stays cheap)."""
    seen: dict[str, None] = {}
    for term in search_terms(text):
        seen.setdefault(term, None)
    return list(seen)[:MAX_QUERY_TERMS]


# --- the periodic sweep's contracts (Temporal payloads) -----------------------------------


class KnowledgeSweepRequest(BaseModel):
    """What the Schedule starts the sweep with (from the worker's settings)."""

    model_config = ConfigDict(frozen=True)

    stale_after: timedelta = timedelta(days=180)


class StaleArticlesQuery(BaseModel):
    model_config = ConfigDict(frozen=True)

    now: datetime
    stale_after: timedelta


class PromptDelivery(BaseModel):
    """Deliver the prompts not yet sent (of one issue, or all of them)."""

    model_config = ConfigDict(frozen=True)

    issue_id: str | None = None


class KnowledgeSweepResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    suggested_for_archiving: tuple[str, ...] = ()
    delivered: int = 0
