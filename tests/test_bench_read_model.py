"""The read-model benchmark runs end to end at toy sizes (its numbers are bench/README.md's)."""

from pathlib import Path

from bench import read_model


async def test_the_read_model_benchmark_measures_every_request_and_prints_ratios(
    tmp_path: Path,
) -> None:
    lines = await read_model.run(
        f"sqlite+aiosqlite:///{tmp_path / 'bench.db'}", [500, 1000], 1, "sqlite"
    )
    assert len(lines) == len(read_model.requests_names())
    assert all(line.startswith("ratio read_model_") for line in lines)
    assert all(line.split()[-1] in ("met", "missed") for line in lines)
