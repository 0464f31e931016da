"""Bulk import of JSON Lines files: parse, validate, publish in batches.

The CLI (``hub publish``) adds the progress bar and summary; this module
does the work and reports per-line outcomes through callbacks.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from hub.errors import PublishError
from hub.publishing.publisher import Ack, Publisher, Rejected

BATCH_SIZE = 500


@dataclass(frozen=True)
class LineReject:
    line: int
    event_id: str | None
    errors: list[tuple[str, str]]
    raw: str

    def to_json(self) -> str:
        return json.dumps(
            {
                "line": self.line,
                "event_id": self.event_id,
                "errors": [{"field": f, "message": m} for f, m in self.errors],
                "input": self.raw,
            },
            ensure_ascii=False,
        )


@dataclass
class ImportSummary:
    published: int = 0
    rejected: int = 0
    per_topic: Counter[str] = field(default_factory=Counter)
    aborted: str | None = None


def parse_lines(lines: Iterable[str]) -> Iterator[tuple[int, str, dict[str, Any] | LineReject]]:
    """Yield (line number, raw text, parsed object or reject) for each non-blank line."""
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text:
            continue
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            problem = f"malformed JSON: {exc.msg} at column {exc.colno}"
            yield number, text, LineReject(number, None, [("line", problem)], text)
            continue
        if not isinstance(doc, dict):
            yield number, text, LineReject(number, None, [("line", "each line must be one JSON object")], text)
            continue
        yield number, text, doc


def import_lines(
    lines: Iterable[str],
    publisher: Publisher,
    rejects: IO[str],
    *,
    on_progress: Callable[[int], None] = lambda n: None,
    batch_size: int = BATCH_SIZE,
) -> ImportSummary:
    """Publish every valid line; write each reject with its reasons to ``rejects``.

    Stops at the first broker failure (``summary.aborted``); a re-run is safe
    because ``event_id`` makes a re-published event the same fact.
    """
    summary = ImportSummary()
    # parse rejects wait in the batch too, so the rejects file stays in line order
    batch: list[tuple[int, str, dict[str, Any] | LineReject]] = []

    def reject(r: LineReject) -> None:
        summary.rejected += 1
        rejects.write(r.to_json() + "\n")

    def flush_batch() -> None:
        if not batch:
            return
        docs = [item for _, _, item in batch if not isinstance(item, LineReject)]
        results = iter(publisher.publish_many(docs) if docs else [])
        for number, raw, item in batch:
            if isinstance(item, LineReject):
                reject(item)
                continue
            result = next(results)
            if isinstance(result, Ack):
                summary.published += 1
                summary.per_topic[result.topic] += 1
            elif isinstance(result, Rejected):
                if result.phase in ("publish", "registry"):
                    summary.aborted = result.message
                reject(LineReject(number, result.event_id or _id_of(item), result.errors, raw))
        on_progress(len(batch))
        batch.clear()

    for entry in parse_lines(lines):
        batch.append(entry)
        if len(batch) >= batch_size:
            flush_batch()
            if summary.aborted:
                return summary
    try:
        flush_batch()
    except PublishError as exc:
        summary.aborted = str(exc)
    return summary


def _id_of(doc: dict[str, Any]) -> str | None:
    value = doc.get("event_id")
    return value if isinstance(value, str) else None
