"""What every benchmark reports: figures with the baseline measured in the same run, as JSON for the harness.

A benchmark builds a :class:`Report`, adds one :class:`Figure` per measured
path (its value, the unit, and the same-run baseline it is compared with),
prints it as a Markdown table and, when ``--json PATH`` is given (or
``HUB_BENCH_JSON`` names a folder), writes it as JSON so that
``benchmarks/run.py`` can put every stage in one table. Nothing here
measures anything; it only keeps figures and their baselines together.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks._stack import machine


@dataclass(frozen=True)
class Figure:
    """One measured path: ``value`` in ``unit``, against ``baseline`` (a name of another figure, or none)."""

    name: str
    value: float
    unit: str
    baseline: str | None = None
    """Name of the figure of the same report this one is a ratio of; None for a baseline itself."""
    target: float | None = None
    """What this path should reach (issue 13): a ratio to its baseline if it has one, else a bound on the value."""
    higher_is_better: bool = True
    note: str = ""


@dataclass
class Report:
    """The figures of one benchmark run."""

    bench: str
    command: str = field(default_factory=lambda: shlex.join([Path(sys.executable).name, *sys.argv]))
    machine: str = field(default_factory=machine)
    started: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M:%S %Z"))
    load_start: float = field(default_factory=lambda: os.getloadavg()[0])
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, name: str, value: float, unit: str, **kw: Any) -> Figure:
        fig = Figure(name, value, unit, **kw)
        self.figures.append(fig)
        return fig

    def get(self, name: str) -> Figure:
        for fig in self.figures:
            if fig.name == name:
                return fig
        raise KeyError(name)

    def ratio(self, fig: Figure) -> float | None:
        if fig.baseline is None:
            return None
        base = self.get(fig.baseline).value
        if not base:
            return None
        return fig.value / base if fig.higher_is_better else base / fig.value

    def markdown(self) -> str:
        lines = [
            f"`{self.command}`  ",
            f"{self.machine}; started {self.started}, load {self.load_start:.2f} -> {os.getloadavg()[0]:.2f}",
            "",
            "| path | figure | baseline (same run) | ratio | target |",
            "| --- | ---: | --- | ---: | ---: |",
        ]
        for fig in self.figures:
            ratio = self.ratio(fig)
            lines.append(
                f"| {fig.name} | {_number(fig.value)} {fig.unit} | {fig.baseline or '(baseline)'} | "
                f"{'' if ratio is None else f'{ratio:.2f}'} | {_target(fig)} |"
            )
        lines.extend(f"- {note}" for note in self.notes)
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["load_end"] = os.getloadavg()[0]
        for fig, row in zip(self.figures, out["figures"], strict=True):
            row["ratio"] = self.ratio(fig)
        return out

    def emit(self, json_path: str | None = None) -> None:
        """Print the table; write the JSON to ``json_path`` or into the folder ``HUB_BENCH_JSON`` names."""
        print()
        print(self.markdown())
        path = json_path
        if path is None and os.environ.get("HUB_BENCH_JSON"):
            path = str(Path(os.environ["HUB_BENCH_JSON"]) / f"{self.bench}.json")
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _target(fig: Figure) -> str:
    if fig.target is None:
        return ""
    return f"{'≥' if fig.baseline is not None or fig.higher_is_better else '≤'} {fig.target:g}"


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"


def peak_rss_mib(pid: int) -> float | None:
    """Peak resident set (``VmHWM``) of a live process, MiB; None if it is gone."""
    return _status_kib(pid, "VmHWM")


def rss_mib(pid: int) -> float | None:
    """Current resident set (``VmRSS``) of a live process, MiB; None if it is gone."""
    return _status_kib(pid, "VmRSS")


def _status_kib(pid: int, key: str) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


__all__ = ["Figure", "Report", "peak_rss_mib", "rss_mib"]
