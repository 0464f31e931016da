"""Writing the demo stream: JSON Lines (with counts and a SHA-256 as it goes) and the metadata sidecar.

The only I/O of the demo data, on binary file objects the caller opens. The
bytes of an event are fixed by :func:`encode_event` (compact UTF-8 JSON, key
order as built), so the same events always give the same file and hash.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import IO, Any

from demo.calendar import DATA_AS_OF
from demo.coverage import fact_coverage
from demo.districts import ILLUSTRATIVE_DISTRICTS, SOURCE_DISTRICTS
from demo.generators.section import FORMAT_VERSION, Event
from demo.seedfacts import SeedFacts
from hub.provenance import ILLUSTRATIVE_MARK, ILLUSTRATIVE_REFERRAL
from hub.reporting_time import REPORTING_TZ_NAME


@dataclass
class WriteSummary:
    """What :func:`write_jsonl` wrote."""

    events: int = 0
    bytes: int = 0
    sha256: str = ""
    counts: dict[str, Counter[str]] = field(default_factory=dict)


def encode_event(doc: Event) -> bytes:
    """One JSON Lines record: compact, UTF-8 (Chinese unescaped), key order as built, newline-terminated."""
    return (json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def write_jsonl(events: Iterable[Event], fp: IO[bytes]) -> WriteSummary:
    """Write ``events`` to the binary file ``fp`` as JSON Lines; count them per district and type."""
    summary = WriteSummary()
    digest = hashlib.sha256()
    for doc in events:
        line = encode_event(doc)
        fp.write(line)
        digest.update(line)
        summary.events += 1
        summary.bytes += len(line)
        summary.counts.setdefault(doc["district"], Counter())[doc["type"]] += 1
    summary.sha256 = digest.hexdigest()
    return summary


def build_metadata(
    seed: int, year: int, summary: WriteSummary, *, limit: int | None = None, facts: SeedFacts | None = None
) -> dict[str, Any]:
    """The sidecar document describing a written stream (seed, year, counts, what is illustrative)."""
    complete = limit is None or summary.events < limit
    return {
        "generator": "demo.data",  # data, kept as it was when the stream was one module
        "format_version": FORMAT_VERSION,
        "seed": seed,
        "year": year,
        "time_zone": f"{REPORTING_TZ_NAME} (+08:00)",
        "time_window": {"from": f"{year}-01-01", "to": date(year, *DATA_AS_OF).isoformat()},
        "complete": complete,
        "limit": limit,
        "events": summary.events,
        "bytes": summary.bytes,
        "sha256": summary.sha256,
        "counts": {d: dict(sorted(c.items())) for d, c in summary.counts.items()},
        "source_districts": list(SOURCE_DISTRICTS),
        "illustrative_districts": list(ILLUSTRATIVE_DISTRICTS),
        "illustrative_note": (
            "The source articles give no figures for Hong Kong, Macao, Guangzhou Tianhe or Zhuhai Xiangzhou; "
            f"their events are illustrative only (cases: referral_source {ILLUSTRATIVE_REFERRAL!r}, station null; "
            f"project names end with {ILLUSTRATIVE_MARK!r})."
        ),
        "synthetic_detail": (
            "Around the figures the source districts also hold synthetic detail that is not a source figure: "
            "Nanshan non-hardship cases, non-HOME visits, case closures, non-SOCIAL_ASSISTANCE services, evaluation "
            "scores and beneficiaries; Tinghu featured-project funding amounts; Jinjiang PASS / NEEDS_IMPROVEMENT "
            "evaluations."
        ),
        "facts": [
            {"district": c.district, "metric": c.metric, "value": c.value, "carried": c.carried}
            for c in fact_coverage(facts)
        ],
    }


def write_metadata(meta: dict[str, Any], fp: IO[bytes]) -> None:
    """Write the sidecar document as indented UTF-8 JSON."""
    fp.write((json.dumps(meta, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))


def sidecar_name(out_name: str) -> str:
    """``FILE`` -> ``FILE.meta.json``."""
    return f"{out_name}.meta.json"


__all__ = ["WriteSummary", "build_metadata", "encode_event", "sidecar_name", "write_jsonl", "write_metadata"]
