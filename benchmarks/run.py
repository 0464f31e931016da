"""The benchmark harness: every stage against its same-run baseline, in one table (``make bench``).

    .venv/bin/python benchmarks/run.py [--quick] [--only NAME ...] [--out DIR] [--write-doc]

Runs each benchmark script one after the other (never side by side: they
share two cores) with ``--json``, each starting and stopping its own broker,
registry or database, then prints one Markdown table of every figure with its
baseline from the same script's run, the ratio and the issue's target, and
writes it to ``DIR/summary.txt`` (default ``.hub/bench/<timestamp>``).
``--quick`` passes ``--quick`` to every script (minutes, for a smoke run);
``--only NAME`` runs some (into the same ``--out`` as an earlier run, it
replaces their reports there), and ``--summarize`` runs nothing and tables
the reports already in ``--out``;
the full run is what ``docs/benchmarks.md`` quotes. ``--write-doc`` puts the
table into ``docs/benchmarks.md`` between its ``latest-run`` markers.

A script that fails is reported in the table and makes the harness exit 1
after the others ran; speed itself never fails anything.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- latest-run:start -->", "<!-- latest-run:end -->"

#: name -> script and its extra arguments, in the order they run (and appear in the table).
BENCHES: dict[str, tuple[str, ...]] = {
    "publish": ("bench_publish.py",),
    "gateway": ("bench_gateway.py",),
    "projection": ("bench_projection.py",),
    "rebuild": ("bench_rebuild.py",),
    "indicators-sqlite": ("bench_indicators.py",),
    "indicators-postgres": ("bench_indicators.py", "--postgres"),
    "replication": ("bench_replication.py",),
    "e2e": ("bench_e2e.py",),
}


def run_one(name: str, out: Path, quick: bool) -> tuple[dict[str, Any] | None, float, str]:
    """Run one benchmark; its JSON report (None if it failed), seconds taken and the tail of its output."""
    script, *extra = BENCHES[name]
    target = out / f"{name}.json"
    command = [sys.executable, str(ROOT / "benchmarks" / script), *extra, "--json", str(target)]
    if quick:
        command.append("--quick")
    print(f"== {name}: {' '.join(command[1:])}", flush=True)
    started = time.monotonic()
    log = out / f"{name}.log"
    with log.open("w", encoding="utf-8") as sink:
        code = subprocess.run(command, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT, check=False).returncode
    seconds = time.monotonic() - started
    tail = "".join(log.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)[-40:])
    if code != 0 or not target.is_file():
        print(f"   failed (exit {code}) after {seconds:.0f}s; its output is in {log}", flush=True)
        return None, seconds, tail
    print(f"   done in {seconds:.0f}s", flush=True)
    doc = json.loads(target.read_text(encoding="utf-8"))
    doc["harness_seconds"] = seconds  # kept with the figures, for --summarize
    target.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return doc, seconds, tail


def collected(out: Path) -> dict[str, tuple[dict[str, Any] | None, float, str]]:
    """The reports already in ``out`` (``--summarize``), in the harness's order."""
    found: dict[str, tuple[dict[str, Any] | None, float, str]] = {}
    for name in BENCHES:
        path = out / f"{name}.json"
        if path.is_file():
            doc = json.loads(path.read_text(encoding="utf-8"))
            found[name] = (doc, float(doc.get("harness_seconds", 0.0)), "")
    if not found:
        raise SystemExit(f"no benchmark reports in {out}")
    return found


def table(results: dict[str, tuple[dict[str, Any] | None, float, str]], quick: bool) -> str:
    """The summary: one row per figure, grouped by benchmark, with the command and machine of each."""
    lines = [f"Harness: `benchmarks/run.py{' --quick' if quick else ''}`, {time.strftime('%Y-%m-%d %H:%M %Z')}", ""]
    lines += [
        "| bench | path | figure | baseline (same run) | ratio | target | met |",
        "| --- | --- | ---: | --- | ---: | ---: | :---: |",
    ]
    machines: set[str] = set()
    for name, (doc, seconds, _) in results.items():
        if doc is None:
            lines.append(f"| {name} | **failed** (see its log) | | | | | |")
            continue
        machines.add(doc["machine"])
        for fig in doc["figures"]:
            ratio, target = fig.get("ratio"), fig.get("target")
            # a target is a ratio to reach when the figure has a baseline, else a bound on the value itself
            at_least = bool(fig.get("baseline")) or fig.get("higher_is_better", True)
            shown = ratio if fig.get("baseline") else fig["value"]
            met = ""
            if target is not None and shown is not None:
                met = "yes" if (shown >= target if at_least else shown <= target) else "no"
            lines.append(
                f"| {name} | {fig['name']} | {_number(fig['value'])} {fig['unit']} | "
                f"{fig.get('baseline') or '(baseline)'} | {'' if ratio is None else f'{ratio:.2f}'} | "
                f"{'' if target is None else _target(target, at_least)} | {met} |"
            )
        lines.append(f"| {name} | _{seconds:.0f} s, load {doc['load_start']:.1f} to {doc['load_end']:.1f}_ | | | | | |")
    lines.append("")
    lines += [f"- {m}" for m in sorted(machines)]
    for name, (doc, _, _) in results.items():
        if doc is not None:
            lines.append(f"- {name}: `{doc['command']}`" + "".join(f"; {n}" for n in doc.get("notes", [])))
    return "\n".join(lines) + "\n"


def _target(target: float, at_least: bool) -> str:
    return f"{'≥' if at_least else '≤'} {target:g}"


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"


def write_doc(summary: str) -> None:
    text = DOC.read_text(encoding="utf-8")
    if START not in text or END not in text:
        raise SystemExit(f"{DOC} has no {START} ... {END} markers to write the latest run between")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(f"{head}{START}\n{summary}{END}{tail}", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="each script's quick mode (minutes in all)")
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHES), help="run only these")
    parser.add_argument("--out", type=Path, default=None, help="folder for the JSON, logs and summary")
    parser.add_argument("--write-doc", action="store_true", help=f"write the table into {DOC.relative_to(ROOT)}")
    parser.add_argument(
        "--summarize", action="store_true", help="run nothing: the table of the reports already in --out"
    )
    args = parser.parse_args()
    if args.summarize and args.out is None:
        parser.error("--summarize needs --out DIR")
    out = args.out or ROOT / ".hub" / "bench" / time.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    names = [n for n in BENCHES if not args.only or n in args.only]
    results = collected(out) if args.summarize else {name: run_one(name, out, args.quick) for name in names}
    summary = table(results, args.quick)
    (out / "summary.txt").write_text(summary, encoding="utf-8")
    print()
    print(summary)
    print(f"written to {out / 'summary.txt'}")
    if args.write_doc:
        write_doc(summary)
        print(f"and into {DOC.relative_to(ROOT)}")
    failed = [n for n, (doc, _, _) in results.items() if doc is None]
    if failed:
        for name in failed:
            print(f"\n== {name} failed; the end of its output:\n{results[name][2]}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
