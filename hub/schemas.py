"""Loading the Avro schemas of the event catalogue (``schemas/<form>/<EventType>.avsc``).

Pure: reads files, never talks to Kafka or a registry. The ``.avsc`` files are
the one source of truth for event shapes; models and validation derive from them.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any, Final, Literal, get_args

import fastavro

from hub.catalogue import EVENT_TYPES
from hub.errors import ConfigError, ValidationError

Form = Literal["raw", "shared"]
FORMS: Final[tuple[Form, ...]] = get_args(Form)

_PACKAGE_DIR: Final = Path(__file__).resolve().parent


def schemas_dir() -> Path:
    """Directory holding ``raw/`` and ``shared/``.

    Inside an installed wheel that is ``hub/_schemas`` (force-included by
    pyproject); in a checkout it is the repository's ``schemas/``.
    """
    for candidate in (_PACKAGE_DIR / "_schemas", _PACKAGE_DIR.parent / "schemas"):
        if (candidate / "raw").is_dir():
            return candidate
    raise ConfigError(
        f"no Avro schemas found: neither {_PACKAGE_DIR / '_schemas'} nor {_PACKAGE_DIR.parent / 'schemas'}"
    )


def _check_form(form: str) -> Form:
    if form not in FORMS:
        raise ValidationError([("form", f"unknown schema form {form!r}; expected one of {', '.join(FORMS)}")])
    return form  # type: ignore[return-value]


@cache
def event_types(form: Form) -> tuple[str, ...]:
    """Event types that have a schema in ``form``: catalogue order first, any others sorted after."""
    directory = schemas_dir() / _check_form(form)
    present = {p.stem for p in directory.glob("*.avsc")}
    known = tuple(t for t in EVENT_TYPES if t in present)
    return known + tuple(sorted(present - set(known)))


def _path(form: Form, event_type: str) -> Path:
    types = event_types(_check_form(form))
    if event_type not in types:
        raise ValidationError([("type", f"unknown event type {event_type!r}; expected one of {', '.join(types)}")])
    return schemas_dir() / form / f"{event_type}.avsc"


@cache
def _loaded(form: Form, event_type: str) -> dict[str, Any]:
    path = _path(form, event_type)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read Avro schema {path}: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("name") != event_type:
        raise ConfigError(f"{path}: expected a record named {event_type!r}")
    return doc


def load_schema(form: Form, event_type: str) -> dict[str, Any]:
    """The schema's JSON document (a fresh copy: callers may modify it)."""
    return copy.deepcopy(_loaded(form, event_type))


@cache
def field_specs(form: Form, event_type: str) -> tuple[dict[str, Any], ...]:
    """The record's field specs in order (cached and shared: treat as read-only; no copy per call)."""
    return tuple(_loaded(form, event_type)["fields"])


@cache
def parsed_schema(form: Form, event_type: str) -> Any:
    """The schema parsed by ``fastavro.parse_schema`` (cached; treat as read-only)."""
    try:
        return fastavro.parse_schema(load_schema(form, event_type))
    except fastavro.schema.SchemaParseException as exc:
        raise ConfigError(f"Avro schema {form}/{event_type} does not parse: {exc}") from exc


@cache
def schema_text(form: Form, event_type: str) -> str:
    """Deterministic compact JSON of the schema, the text registered with the schema registry.

    Key order is the file's; ``doc``, defaults and logical types are kept (unlike
    Avro's Parsing Canonical Form, which would drop them).
    """
    return json.dumps(_loaded(form, event_type), separators=(",", ":"), ensure_ascii=False)


@cache
def record_fields(form: Form, event_type: str) -> tuple[str, ...]:
    """Field names of a record, in schema order (cached)."""
    return tuple(f["name"] for f in _loaded(form, event_type)["fields"])
