"""``hub demo-data``, run as a user runs it: the file, its sidecar, stdout and a bad year."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

from demo.districts import ILLUSTRATIVE_DISTRICTS
from demo.stream import generate
from demo.writers import encode_event

SEED_A = 20260314
HUB = str(Path(sys.executable).with_name("hub"))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("HUB_")}
    return subprocess.run([HUB, *args], capture_output=True, env=env, cwd=cwd, timeout=300)


def _head(n: int) -> bytes:
    """The first ``n`` lines of the stream of SEED_A, as write_jsonl writes them."""
    return b"".join(encode_event(doc) for doc in itertools.islice(generate(SEED_A), n))


def test_cli_writes_a_file_and_its_sidecar(tmp_path: Path) -> None:
    out = tmp_path / "demo.jsonl"
    proc = _run(["demo-data", "--out", str(out), "--seed", str(SEED_A), "--limit", "3000"], tmp_path)
    assert proc.returncode == 0, proc.stderr.decode()
    assert out.read_bytes() == _head(3000)
    meta = json.loads((tmp_path / "demo.jsonl.meta.json").read_text(encoding="utf-8"))
    recount: dict[str, Counter[str]] = defaultdict(Counter)
    for line in out.read_bytes().splitlines():
        doc = json.loads(line)
        recount[doc["district"]][doc["type"]] += 1
    assert meta["seed"] == SEED_A and meta["year"] == 2026 and meta["limit"] == 3000 and meta["complete"] is False
    assert meta["events"] == 3000 and meta["sha256"] == _sha256(out)
    assert meta["counts"] == {d: dict(c) for d, c in recount.items()}
    assert meta["illustrative_districts"] == list(ILLUSTRATIVE_DISTRICTS)
    assert "3,000" in proc.stdout.decode()


def test_cli_limit_to_stdout_is_a_prefix_of_the_stream(tmp_path: Path) -> None:
    proc = _run(["demo-data", "--out", "-", "--seed", str(SEED_A), "--limit", "100"], tmp_path)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout == _head(100)
    assert "--limit 100" in proc.stderr.decode()
    assert list(tmp_path.iterdir()) == []  # no sidecar for stdout


def test_cli_bad_year_is_a_one_line_error(tmp_path: Path) -> None:
    proc = _run(["demo-data", "--out", str(tmp_path / "x.jsonl"), "--seed", "1", "--year", "1900"], tmp_path)
    assert proc.returncode == 1
    lines = proc.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "year" in lines[0], proc.stderr
