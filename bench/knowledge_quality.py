"""Knowledge search quality and speed, on SQLite (FTS5) and PostgreSQL (tsvector + GIN).

    .venv/bin/python -m bench.knowledge_quality [--sizes 1000 100000] [--backends sqlite postgresql]

The labelled set (`bench/data/knowledge_scenarios.json`, `knowledge_variants.json`) holds
50 support problems written in English and Chinese (one article each per language), 12
version-specific variants of them (in both languages), and the queries a customer or an
engineer would type: paraphrases, not titles. Filler how-to articles (from templates, in
both languages) bring the labelled corpus above 200 articles. Each query's expected
articles are its scenario's articles in the query's language (for a version query: the
variant for that version and the version-less article, filtered by product and version).

Quality (recall@5, MRR) is measured on the labelled corpus; speed (p50/p99 per query) on
the labelled corpus padded with generated articles to each size, and the ratio of the
largest size to the smallest is what must stay within 2x.
"""

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from db.migrate import upgrade_to_head
from db.models import ArticleRow
from db.repositories import knowledge as repo
from db.session import Database
from domain.knowledge import ArticleKind, ArticleState, Audience

DATA = Path(__file__).parent / "data"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
RECALL_GOAL = 0.9
MRR_GOAL = 0.7
RATIO_GOAL = 2.0


@dataclass(frozen=True)
class Query:
    text: str
    expected: frozenset[str]
    product_id: str | None = None
    version: str | None = None


@dataclass
class Corpus:
    articles: list[ArticleRow] = field(default_factory=list)
    queries: list[Query] = field(default_factory=list)


def _row(article_id: str, product: str, texts: dict[str, str], version: str | None) -> ArticleRow:
    return ArticleRow(
        id=article_id,
        title=texts["title"],
        problem=texts["problem"],
        environment="",
        product_id=product,
        product_version=version,
        cause=texts.get("cause", ""),
        resolution=texts["resolution"],
        workaround="",
        kind=ArticleKind.KNOWN_ERROR,
        category=None,
        tags=[],
        audience=Audience.CUSTOMER,
        state=ArticleState.VALIDATED,
        owner_id=None,
        owner_name=None,
        source_issue_id=None,
        defect_key=None,
        fixed_in_version=None,
        reuse_count=0,
        helpful_count=0,
        not_helpful_count=0,
        outdated_count=0,
        last_used_at=None,
        created_at=T0,
        updated_at=T0,
        revision=1,
        search_document="",
    )


# How-to articles about other tasks on the same products: they share the vocabulary
# (product names, "firmware", "configuration", 固件, 配置...) without answering any query.
HOW_TO_EN = [
    (
        "How to back up the {p} configuration",
        "Export the configuration file from the {p} and keep it safe.",
    ),
    (
        "How to restore the {p} to factory settings",
        "Hold the reset button for ten seconds on the {p}.",
    ),
    (
        "How to upgrade the {p} firmware safely",
        "Download the image, verify its checksum, then upload it to the {p}.",
    ),
    (
        "How to add a local administrator account on the {p}",
        "Create a user with the admin role on the {p}.",
    ),
    ("How to set up NTP time synchronisation on the {p}", "Point the {p} at two NTP servers."),
    (
        "How to read the {p} serial number",
        "The serial number is on the label and in the system page of the {p}.",
    ),
    (
        "How to enable SSH access on the {p}",
        "Turn on SSH and restrict it to the management network of the {p}.",
    ),
    (
        "How to register the {p} for warranty",
        "Enter the serial number of the {p} in the support portal.",
    ),
]
HOW_TO_ZH = [
    ("如何备份{p}的配置", "从{p}导出配置文件并妥善保存。"),
    ("如何把{p}恢复出厂设置", "按住{p}的复位键十秒。"),
    ("如何安全地给{p}升级固件", "下载镜像并校验后上传到{p}。"),
    ("如何在{p}上添加本地管理员", "在{p}上创建具有管理员角色的用户。"),
    ("如何配置{p}的时间同步", "给{p}配置两个NTP服务器。"),
]
PRODUCTS = {
    "edge-router": ("edge router", "边缘路由器"),
    "core-switch": ("core switch", "核心交换机"),
    "wifi-ap": ("wireless access point", "无线AP"),
    "firewall": ("firewall", "防火墙"),
    "nms": ("network management system", "网管系统"),
    "ip-camera": ("IP camera", "网络摄像机"),
    "nvr": ("network video recorder", "网络录像机"),
    "voip-phone": ("IP phone", "网络电话机"),
}


def labelled_corpus() -> Corpus:
    scenarios = json.loads((DATA / "knowledge_scenarios.json").read_text())
    variants = json.loads((DATA / "knowledge_variants.json").read_text())
    corpus = Corpus()
    by_scenario: dict[str, dict[str, list[str]]] = {}
    product_of: dict[str, str] = {}
    for s in scenarios:
        product_of[s["id"]] = s["product"]
        ids = by_scenario.setdefault(s["id"], {"en": [], "zh": []})
        for lang in ("en", "zh"):
            article_id = f"{s['id']}-{lang}"
            corpus.articles.append(_row(article_id, s["product"], s[lang], None))
            ids[lang].append(article_id)
    variant_ids: dict[tuple[str, str, str], str] = {}
    for v in variants:
        for lang in ("en", "zh"):
            article_id = f"{v['scenario']}-{lang}-v{v['version']}"
            corpus.articles.append(
                _row(article_id, product_of[v["scenario"]], v[lang], v["version"])
            )
            by_scenario[v["scenario"]][lang].append(article_id)
            variant_ids[(v["scenario"], lang, v["version"])] = article_id
    for product, (en_name, zh_name) in PRODUCTS.items():
        for n, (title, problem) in enumerate(HOW_TO_EN):
            texts = {
                "title": title.format(p=en_name),
                "problem": problem.format(p=en_name),
                "resolution": "",
            }
            corpus.articles.append(_row(f"howto-{product}-en{n}", product, texts, None))
        for n, (title, problem) in enumerate(HOW_TO_ZH):
            texts = {
                "title": title.format(p=zh_name),
                "problem": problem.format(p=zh_name),
                "resolution": "",
            }
            corpus.articles.append(_row(f"howto-{product}-zh{n}", product, texts, None))
    for s in scenarios:
        for lang in ("en", "zh"):
            for text in s[f"queries_{lang}"]:
                corpus.queries.append(Query(text, frozenset(by_scenario[s["id"]][lang])))
    for v in variants:
        for lang in ("en", "zh"):
            expected = {variant_ids[(v["scenario"], lang, v["version"])], f"{v['scenario']}-{lang}"}
            corpus.queries.append(
                Query(
                    v[f"query_{lang}"], frozenset(expected), product_of[v["scenario"]], v["version"]
                )
            )
    return corpus


# Filler for the speed runs: plausible support articles from a shuffled vocabulary, so the
# queries' words occur in the filler as often as in a real knowledge base of that size.
WORDS_EN = [
    "router",
    "switch",
    "firewall",
    "camera",
    "phone",
    "recorder",
    "access",
    "point",
    "controller",
    "vpn",
    "tunnel",
    "wifi",
    "wireless",
    "packet",
    "loss",
    "drops",
    "disconnect",
    "reboot",
    "restart",
    "upgrade",
    "firmware",
    "version",
    "slow",
    "latency",
    "error",
    "failed",
    "timeout",
    "login",
    "password",
    "certificate",
    "port",
    "vlan",
    "dhcp",
    "address",
    "dns",
    "interface",
    "link",
    "fan",
    "power",
    "disk",
    "storage",
    "alarm",
    "email",
    "report",
    "topology",
    "discovery",
    "snmp",
    "audio",
    "call",
    "echo",
    "video",
    "playback",
    "night",
    "image",
    "motion",
    "stream",
    "license",
    "backup",
    "restore",
]
WORDS_ZH = [
    "路由器",
    "交换机",
    "防火墙",
    "摄像机",
    "电话",
    "录像机",
    "无线",
    "控制器",
    "隧道",
    "丢包",
    "断线",
    "重启",
    "升级",
    "固件",
    "版本",
    "网速",
    "延迟",
    "错误",
    "失败",
    "超时",
    "登录",
    "密码",
    "证书",
    "端口",
    "地址",
    "接口",
    "链路",
    "风扇",
    "电源",
    "硬盘",
    "告警",
    "邮件",
    "报表",
    "拓扑",
    "发现",
    "通话",
    "回声",
    "视频",
    "回放",
    "夜间",
    "画面",
    "移动",
    "侦测",
    "备份",
    "恢复",
    "配置",
    "掉线",
    "认证",
]


def filler(count: int, seed: int = 7) -> list[ArticleRow]:
    rng = random.Random(seed)
    products = list(PRODUCTS)
    rows = []
    for n in range(count):
        words = WORDS_ZH if n % 3 == 0 else WORDS_EN
        joiner = "" if words is WORDS_ZH else " "
        title = joiner.join(rng.sample(words, 5))
        problem = joiner.join(rng.choices(words, k=30))
        texts = {
            "title": title,
            "problem": problem,
            "resolution": joiner.join(rng.choices(words, k=15)),
        }
        version = rng.choice([None, "1.0", "2.0", "5.2", "6.1", "9.4"])
        rows.append(_row(f"fill-{n}", rng.choice(products), texts, version))
    return rows


async def load(db: Database, rows: Sequence[ArticleRow], batch: int = 2000) -> None:
    for start in range(0, len(rows), batch):
        async with db.transaction() as session:
            await repo.import_articles(session, rows[start : start + batch])


async def analyze(db: Database) -> None:
    """Fresh statistics, as autovacuum keeps them in production (they tell common terms)."""
    async with db.transaction() as session:
        await session.execute(sa.text("ANALYZE"))


def _filters(query: Query) -> repo.SearchFilters:
    return repo.SearchFilters(
        product_id=query.product_id,
        product_version=query.version,
        audiences=(Audience.CUSTOMER,),
        states=(ArticleState.VALIDATED,),
    )


async def run_queries(
    db: Database, queries: Sequence[Query]
) -> tuple[list[list[str]], list[float]]:
    results: list[list[str]] = []
    timings: list[float] = []
    async with db.session() as session:
        for query in queries:
            started = time.perf_counter()
            hits = await repo.search(session, query.text, _filters(query), limit=5)
            timings.append(time.perf_counter() - started)
            results.append([h.article.id for h in hits])
            await session.rollback()
    return results, timings


def quality(
    queries: Sequence[Query], results: Sequence[Sequence[str]]
) -> tuple[float, float, list[Query]]:
    recalls, reciprocal, misses = [], [], []
    for query, found in zip(queries, results, strict=True):
        top = list(found[:5])
        recalls.append(len(query.expected & set(top)) / len(query.expected))
        rank = next((i + 1 for i, a in enumerate(top) if a in query.expected), None)
        reciprocal.append(1 / rank if rank else 0.0)
        if rank is None:
            misses.append(query)
    return statistics.fmean(recalls), statistics.fmean(reciprocal), misses


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def ratio(name: str, value: float, op: str, goal: float) -> str:
    met = value >= goal if op == ">=" else value <= goal
    return f"ratio {name} {value:.3f} goal {op}{goal} {'met' if met else 'missed'}"


class Backend:
    """A fresh, migrated database per size, dropped afterwards."""

    def __init__(self, name: str, directory: Path) -> None:
        self.name = name
        self.directory = directory
        self.created: list[str] = []

    async def database(self) -> Database:
        if self.name == "sqlite":
            url = f"sqlite+aiosqlite:///{self.directory / f'kb-{uuid.uuid4().hex[:6]}.db'}"
        else:
            admin = make_url(POSTGRES_URL)
            name = f"itr_bench_kb_{uuid.uuid4().hex[:8]}"
            connection = await asyncpg.connect(
                admin.set(drivername="postgresql").render_as_string(False)
            )
            try:
                await connection.execute(f'CREATE DATABASE "{name}"')
            finally:
                await connection.close()
            self.created.append(name)
            url = admin.set(database=name).render_as_string(hide_password=False)
        await upgrade_to_head(url)
        return Database(url)

    async def cleanup(self) -> None:
        if not self.created:
            return
        admin = make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string(False)
        connection = await asyncpg.connect(admin)
        try:
            for name in self.created:
                await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()


async def measure(
    backend_name: str, sizes: Sequence[int], directory: Path, verbose: bool
) -> list[str]:
    corpus = labelled_corpus()
    backend = Backend(backend_name, directory)
    lines = []
    try:
        db = await backend.database()
        await load(db, corpus.articles)
        await analyze(db)
        results, _ = await run_queries(db, corpus.queries)
        recall, mrr, misses = quality(corpus.queries, results)
        await db.dispose()
        print(
            f"# {backend_name}: {len(corpus.articles)} labelled articles, "
            f"{len(corpus.queries)} queries",
            flush=True,
        )
        if verbose:
            for miss in misses:
                print(f"#   miss: {miss.text!r} expected {sorted(miss.expected)}")
        lines.append(ratio(f"{backend_name}_recall_at_5", recall, ">=", RECALL_GOAL))
        lines.append(ratio(f"{backend_name}_mrr", mrr, ">=", MRR_GOAL))
        percentiles: dict[int, tuple[float, float]] = {}
        for size in sizes:
            db = await backend.database()
            await load(db, corpus.articles + filler(max(0, size - len(corpus.articles))))
            await analyze(db)
            await run_queries(db, corpus.queries[:20])  # warm the caches
            timings: list[float] = []
            for _ in range(3):
                _, round_timings = await run_queries(db, corpus.queries)
                timings.extend(round_timings)
            await db.dispose()
            p50, p99 = percentile(timings, 50), percentile(timings, 99)
            percentiles[size] = (p50, p99)
            print(
                f"# {backend_name} {size} articles: "
                f"p50 {p50 * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms",
                flush=True,
            )
        if len(sizes) >= 2:
            small, large = percentiles[min(sizes)], percentiles[max(sizes)]
            tag = f"{backend_name}_{max(sizes) // 1000}k_vs_{min(sizes) // 1000}k"
            lines.append(ratio(f"{tag}_p50", large[0] / small[0], "<=", RATIO_GOAL))
            lines.append(ratio(f"{tag}_p99", large[1] / small[1], "<=", RATIO_GOAL))
    finally:
        await backend.cleanup()
    return lines


async def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--verbose", action="store_true", help="list the queries that missed")
    args = parser.parse_args(argv)
    lines: list[str] = []
    with tempfile.TemporaryDirectory() as directory:
        for backend in args.backends:
            lines.extend(await measure(backend, args.sizes, Path(directory), args.verbose))
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
