"""Reading agreements: YAML text, one file, a directory, and where the shipped agreements are.

:func:`parse_agreement` refuses invalid YAML and a mapping key given twice,
validates the shape (:mod:`hub.agreements.file_schema`) and compiles it
(:mod:`hub.agreements.compiler`); every fault is a
:class:`~hub.agreements.problems.Problem` naming the file, the event and the
field. :func:`load_agreements` reports the problems of every file of a
directory at once and allows one agreement per region and per id.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError as PydanticValidationError

from hub.agreements.compiler import compile_agreement
from hub.agreements.file_schema import AgreementFile
from hub.agreements.model import Agreement
from hub.agreements.problems import AgreementError, Problem
from hub.orgunits import REGIONS


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping key given twice (PyYAML silently keeps the last)."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)  # type: ignore[no-untyped-call]
        try:
            hash(key)
        except TypeError:  # a list or mapping as a key: `key in seen` would raise TypeError
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a scalar, not a list or a mapping", key_node.start_mark
            ) from None
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} appears twice in one mapping", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _pydantic_problems(exc: PydanticValidationError, origin: str) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        event = loc[1] if len(loc) > 1 and loc[0] == "events" else None
        rest = loc[2:] if event else loc
        problems.append(Problem(origin, event, ".".join(rest) or None, err["msg"]))
    return problems


def parse_agreement(text: str, origin: str = "<memory>") -> Agreement:
    """Parse and check an agreement from YAML text."""
    try:
        doc = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        if isinstance(exc, yaml.reader.ReaderError):  # a character YAML forbids: no line, a position
            char = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
            problem = f"character {char} at position {exc.position} is not allowed ({exc.reason})"
        else:
            problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
        raise AgreementError([Problem(origin, None, None, f"{where}not valid YAML: {problem}")]) from exc
    if not isinstance(doc, dict):
        raise AgreementError([Problem(origin, None, None, "expected a YAML mapping at the top level")])
    try:
        parsed = AgreementFile.model_validate(doc)
    except PydanticValidationError as exc:
        raise AgreementError(_pydantic_problems(exc, origin)) from exc
    return compile_agreement(parsed, origin)


def load_agreement(path: Path) -> Agreement:
    """Read and check one agreement file; problems raise :class:`AgreementError` naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AgreementError([Problem(str(path), None, None, f"cannot read: {exc}")]) from exc
    return parse_agreement(text, str(path))


def agreement_files(directory: Path) -> list[Path]:
    """The ``*.yaml`` / ``*.yml`` files of an agreements directory, sorted."""
    if not directory.is_dir():
        raise AgreementError([Problem(str(directory), None, None, "agreements directory does not exist")])
    return sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def load_agreements(directory: Path) -> dict[str, Agreement]:
    """Every agreement of a directory, by source region; all problems of all files in one :class:`AgreementError`."""
    files = agreement_files(directory)
    if not files:
        raise AgreementError([Problem(str(directory), None, None, "no agreement files (*.yaml)")])
    problems: list[Problem] = []
    by_region: dict[str, Agreement] = {}
    by_id: dict[str, Agreement] = {}
    for path in files:
        try:
            agreement = load_agreement(path)
        except AgreementError as exc:
            problems.extend(exc.problems)
            continue
        if agreement.source_region in by_region:
            other = by_region[agreement.source_region].origin
            problems.append(
                Problem(
                    str(path),
                    None,
                    "source_region",
                    f"second agreement for region {agreement.source_region} (first: {other})",
                )
            )
            continue
        if agreement.id in by_id:
            problems.append(
                Problem(str(path), None, "id", f"id {agreement.id} is also used by {by_id[agreement.id].origin}")
            )
            continue
        by_region[agreement.source_region] = agreement
        by_id[agreement.id] = agreement
    if problems:
        raise AgreementError(problems)
    return {region: by_region[region] for region in REGIONS if region in by_region}


def default_agreements_dir() -> Path:
    """The shipped agreements: ``hub/_agreements`` in an installed wheel, else the repository's ``agreements/``."""
    package = Path(__file__).resolve().parents[1]  # the hub package
    for candidate in (package / "_agreements", package.parent / "agreements"):
        if candidate.is_dir():
            return candidate
    return package.parent / "agreements"


def agreements_dir(configured: Path | None) -> Path:
    """``settings.agreements_dir`` if set, else :func:`default_agreements_dir`."""
    return configured if configured is not None else default_agreements_dir()


__all__ = [
    "agreement_files",
    "agreements_dir",
    "default_agreements_dir",
    "load_agreement",
    "load_agreements",
    "parse_agreement",
]
