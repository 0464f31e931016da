"""docs/security.md says what the code does: its ACL table is the plan, and its commands exist.

The ACL table is :func:`hub.acl_plan.plan` (what ``hub kafka acls plan`` prints) condensed to one row
per principal, the districts folded into one row: when the plan changes, this test fails and prints
the table to paste between the page's ``acl-table`` markers.
"""

from __future__ import annotations

import re
import shlex
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import typer.main

from cli.main import app
from hub import naming
from hub.acl_plan import AclEntry, Operation, PatternType, Permission, ResourceType, plan
from hub.agreements import load_agreements
from hub.agreements.loading import agreements_dir
from hub.orgunits import org_units
from hub.principals import SUPER_USERS, district_principal

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "security.md"
START, END = "<!-- acl-table:start -->", "<!-- acl-table:end -->"
DISTRICT = "district.<region>.<district>"
DISTRICT_PREFIX = "raw.<region>.<district>."
OPERATIONS = list(Operation)


def _resource(rtype: ResourceType, ptype: PatternType, name: str) -> str:
    shown = f"`{name}*`" if ptype is PatternType.PREFIXED else f"`{name}`"
    return shown if rtype is ResourceType.TOPIC else f"group {shown}"


def _cells(entries: list[AclEntry], districts: set[str]) -> tuple[str, str]:
    """(allowed, denied) of one principal; the raw prefixes in ``districts`` are shown as one placeholder,
    with a count when the principal does not have them all."""
    grouped: dict[tuple[Permission, ResourceType, PatternType, str], dict[Operation, set[str]]] = defaultdict(
        lambda: defaultdict(set)
    )
    for e in entries:
        shown = DISTRICT_PREFIX if e.name in districts else e.name
        grouped[(e.permission, e.resource_type, e.pattern_type, shown)][e.operation].add(e.name)
    cells = []
    for permission in (Permission.ALLOW, Permission.DENY):
        by_ops: dict[tuple[Operation, ...], list[str]] = defaultdict(list)
        for (perm, rtype, ptype, shown), ops in sorted(grouped.items()):
            if perm is not permission:
                continue
            resource = _resource(rtype, ptype, shown)
            short = {len(names) for names in ops.values()} != {len(districts)}
            if shown == DISTRICT_PREFIX and short:
                resource += f" ({'/'.join(str(len(n)) for n in ops.values())} of {len(districts)} districts)"
            by_ops[tuple(sorted(ops, key=OPERATIONS.index))].append(resource)
        ordered = sorted(by_ops.items(), key=lambda kv: (kv[1][0].startswith("group"), [*map(OPERATIONS.index, kv[0])]))
        cells.append("; ".join(f"{', '.join(ops)} {', '.join(resources)}" for ops, resources in ordered) or "-")
    return cells[0], cells[1]


def acl_table() -> str:
    """The plan as a Markdown table: principal, what it is allowed, what it is denied.

    A district's row shows its own prefix as ``raw.<region>.<district>.``; when every district's row is
    the same, one row stands for them all. Another principal's row folds every district's prefix into
    that placeholder, saying how many it has when it has not all.
    """
    units = org_units()
    entries = plan(units, load_agreements(agreements_dir(None)))
    own_prefix = {
        district_principal(d.region, d.code): naming.raw_prefix(d.region, d.code) for d in units.districts.values()
    }
    by_principal: dict[str, list[AclEntry]] = defaultdict(list)
    for entry in entries:
        by_principal[entry.principal.removeprefix("User:")].append(entry)
    rows: dict[str, tuple[str, str]] = {}
    for name, granted in by_principal.items():
        rows[name] = _cells(granted, {own_prefix[name]} if name in own_prefix else set(own_prefix.values()))
    district_rows = {rows[name] for name in own_prefix if name in rows}
    if len(district_rows) == 1 and all(name in rows for name in own_prefix):
        for name in own_prefix:
            del rows[name]
        rows[DISTRICT] = district_rows.pop()
    lines = ["| principal | allowed | denied |", "| --- | --- | --- |"]
    for name in sorted(rows, key=lambda p: (p != DISTRICT, p)):
        lines.append(f"| `{name}` | {rows[name][0]} | {rows[name][1]} |")
    supers = ", ".join(f"`{name}`" for name in SUPER_USERS)
    lines.append(f"| {supers} | everything (super users: no ACL) | - |")
    return "\n".join(lines) + "\n"


def test_the_acl_table_of_the_page_is_the_plan() -> None:
    text = PAGE.read_text(encoding="utf-8")
    assert START in text and END in text, f"docs/security.md lost its {START} ... {END} markers"
    shown = text.split(START, 1)[1].split(END, 1)[0].strip("\n") + "\n"
    expected = acl_table()
    assert shown == expected, f"the plan changed: paste this between the markers of docs/security.md:\n{expected}"


def test_the_district_row_stands_for_every_district() -> None:
    units = org_units()
    entries = plan(units, load_agreements(agreements_dir(None)))
    example = district_principal("GD", "shenzhen-nanshan")
    assert {e.name for e in entries if e.principal == f"User:{example}"} == {"raw.gd.shenzhen-nanshan."}
    assert f"| `{DISTRICT}` | WRITE, DESCRIBE `{DISTRICT_PREFIX}*` | - |" in acl_table()


def _commands(text: str) -> list[list[str]]:
    """Every ``hub ...`` command line of the page's code blocks and code spans, as arguments."""
    found: list[list[str]] = []
    for block in re.findall(r"^\s*```[a-z]*\n(.*?)^\s*```", text, re.S | re.M):
        for line in block.splitlines():
            line = line.split(" #", 1)[0].strip()
            line = re.sub(r"^(?:[A-Z_]+=\S+\s+)*", "", line)  # VAR=value prefixes
            line = re.sub(r"^docker compose run(?: --rm| --no-deps| -v \S+)* [\w-]+ (?=hub )", "", line)
            if line.startswith("hub "):
                found.append(shlex.split(line))
    for span in re.findall(r"`(hub [^`]+)`", text):
        found.append(shlex.split(span))
    return found


def _is_group(command: Any) -> bool:
    return isinstance(getattr(command, "commands", None), dict)


def _command_of(argv: list[str]) -> Any:
    """The ``hub`` (sub)command ``argv`` runs; fails on a word that is no command of a group, or an unknown option."""
    command: Any = typer.main.get_command(app)
    words = argv[1:]
    root = {opt for param in command.params for opt in param.opts}
    while len(words) >= 2 and words[0] in root:  # the root's own options (`hub --cluster NAME ...`)
        words = words[2:]
    while _is_group(command) and words and not words[0].startswith("-"):
        sub = command.commands.get(words[0])
        assert sub is not None, f"docs/security.md shows `{' '.join(argv)}`: {words[0]!r} is not a command"
        command, words = sub, words[1:]
    options = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    for word in words:
        if word.startswith("--"):
            assert word.split("=")[0] in options, f"docs/security.md shows `{' '.join(argv)}`: no option {word}"
    return command


def test_every_hub_command_the_page_shows_exists() -> None:
    commands = _commands(PAGE.read_text(encoding="utf-8"))
    assert len(commands) > 10
    for argv in commands:
        command = _command_of(argv)
        shown = " ".join(argv)
        assert not _is_group(command) or shown in ("hub kafka users", "hub kafka acls"), (
            f"`{shown}` names a group, not a command"
        )


def test_a_command_the_hub_does_not_have_is_caught() -> None:
    for wrong in ("hub kafka users rotate partner.hk", "hub kafka users add partner.hk --password x"):
        with pytest.raises(AssertionError, match=r"docs/security\.md shows"):
            _command_of(shlex.split(wrong))
    assert _is_group(_command_of(["hub", "kafka", "users"]))
    assert not _is_group(_command_of(["hub", "kafka", "users", "add", "partner.hk"]))
