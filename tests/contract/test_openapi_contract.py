"""The OpenAPI document is a contract the running server keeps, for every role.

Schemathesis's command-line runner, as a user would run it, generates requests from the
document (examples, edge cases, fuzzing, stateful links; a bounded number per operation)
and sends them over real HTTP to `itr dev` (dev server, worker, API, SQLite read model with
the demo data) with the admin's, an engineer's and a customer's token. Each answer must be
no server error, have a documented status and content type, and match the documented
schema.
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.devserver import free_port

ROOT = Path(__file__).resolve().parents[2]
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
]
SEED = "20261202"
TOKENS = {
    "admin": "demo-admin",
    "engineer": "demo-engineer-alice",
    "customer": "demo-customer-acme",
}
# Bounded: every operation still gets its examples and edge cases, plus this many fuzzed ones.
MAX_EXAMPLES = int(os.environ.get("ITR_CONTRACT_EXAMPLES", "5"))

pytestmark = pytest.mark.timeout(1200)


@pytest.fixture(scope="module")
def running_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`itr dev` on free ports in a fresh data directory; stopped with Ctrl-C afterwards."""
    data = tmp_path_factory.mktemp("contract")
    api_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ITR_")}
    env.update(
        {
            "ITR_DATA_DIR": str(data),
            "ITR_DATABASE_URL": f"sqlite+aiosqlite:///{data / 'itr.db'}",
            "ITR_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
            "ITR_TEMPORAL_UI_PORT": str(free_port()),
            "ITR_API_PORT": str(api_port),
            "ITR_PUBLIC_BASE_URL": f"http://127.0.0.1:{api_port}",
            "ITR_LOG_LEVEL": "WARNING",
            # Generated requests include bad credentials: keep the valid token's calls
            # from being answered 429 for the whole run.
            "ITR_AUTH_FAILURE_LIMIT": "100000/minute",
        }
    )
    log = (data / "itr-dev.log").open("wb")
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "itr"), "dev"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{api_port}"
    try:
        wait_until_ready(base_url, process, data / "itr-dev.log")
        yield base_url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def wait_until_ready(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Poll /readyz (database, Temporal) until the stack answers, or fail with its log."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"itr dev exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"itr dev not ready within 120 s:\n{log.read_text()[-3000:]}")


@pytest.mark.parametrize("role", sorted(TOKENS))
def test_every_answer_matches_the_published_contract(
    running_stack: str, role: str, tmp_path: Path
) -> None:
    """Schemathesis's own runner (examples, coverage edge cases, fuzzing), seeded, bounded."""
    command = [
        str(Path(sys.executable).parent / "st"),
        "run",
        f"{running_stack}/openapi.json",
        *("--header", f"Authorization: Bearer {TOKENS[role]}"),
        *("--checks", ",".join(CHECKS)),
        *("--max-examples", str(MAX_EXAMPLES)),
        *("--seed", SEED),
        *("--request-timeout", "30"),
        "--generation-deterministic",
        "--no-color",
        *("--report", "junit", "--report-junit-path", str(tmp_path / "junit.xml")),
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    output = run.stdout + run.stderr
    assert run.returncode == 0, f"schemathesis ({role}) found failures:\n{output[-12000:]}"
    assert " passed" in output, output[-3000:]
