"""Every doc link, and every file a doc, docstring or comment names, resolves to a file in the repository.

Users who clone the repository have only what is in it, so a page or a docstring
that cites a file elsewhere (a design note, a renamed module) is a broken promise.
Also: docs/architecture.md names every module of the five packages, so its module
map cannot fall behind the code.

Pure: reads files of the working tree, nothing else.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("hub", "projections", "consumers", "demo", "cli")
CODE_DIRS = (*PACKAGES, "tests", "benchmarks")
TOP_LEVEL = (*CODE_DIRS, "schemas", "docs", "agreements", "fx", "scripts")
DOCS = sorted([ROOT / "README.md", ROOT / "schemas" / "README.md", *(ROOT / "docs").glob("*.md")])
ARCHITECTURE = ROOT / "docs" / "architecture.md"

FENCE = re.compile(r"^\s*```.*?^\s*```", re.M | re.S)
CODE_SPAN = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"(?<!!)\[[^\]\n]*\]\(([^)\s]+)\)")
URL = re.compile(r"[a-z][a-z0-9+.-]*://\S+", re.I)
MD_NAME = re.compile(r"(?<![\w./-])([\w./-]*\w\.md)\b")
_TOP = "|".join(TOP_LEVEL)
REPO_PATH = re.compile(
    rf"(?<![\w./<>-])((?:{_TOP})/[\w./-]*\w\.(?:py|md|avsc|yaml|yml|json|xml|sh|toml|ini|mako|txt))(?![\w<>*{{}}])"
)
with (ROOT / "pyproject.toml").open("rb") as _f:
    _WHEEL = tomllib.load(_f)["tool"]["hatch"]["build"]["targets"]["wheel"]
#: Where an installed wheel keeps the shipped data (``hub/_schemas`` ...): real paths, but not of the checkout.
INSTALLED_ONLY = tuple(f"{target}/" for target in _WHEEL["force-include"].values())


def repo_paths(text: str) -> set[str]:
    """Repository paths a text names; not a URL, and not another project's file ("eventsourcing's tests/x.py")."""
    text = URL.sub("", text)
    return {m.group(1) for m in REPO_PATH.finditer(text) if not re.search(r"\w's\s+`{0,2}$", text[: m.start()])}


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lowercase, punctuation dropped, spaces as hyphens."""
    text = heading.strip().lower().replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(doc: Path) -> set[str]:
    seen: dict[str, int] = {}
    out: set[str] = set()
    for heading in re.findall(r"^#{1,6} (.+)$", FENCE.sub("", doc.read_text(encoding="utf-8")), re.M):
        base = slug(heading)
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def resolve_md(name: str, near: Path) -> Path | None:
    """A ``*.md`` name as a reader would look for it: beside the citing file, from the root, or in docs/."""
    for base in (near, ROOT, ROOT / "docs"):
        candidate = (base / name).resolve()
        if candidate.is_file():
            return candidate
    return None


def text_of(doc: Path) -> str:
    return doc.read_text(encoding="utf-8")


# -- the docs -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("doc", DOCS, ids=rel)
def test_relative_markdown_links_resolve(doc: Path) -> None:
    """``[text](target)`` outside code: the target exists, and so does its ``#anchor``."""
    broken: list[str] = []
    prose = CODE_SPAN.sub("", FENCE.sub("", text_of(doc)))
    for target in LINK.findall(prose):
        if URL.match(target) or target.startswith("mailto:"):
            continue
        path_part, _, anchor = target.partition("#")
        path = (doc.parent / path_part).resolve() if path_part else doc
        if not path.exists():
            broken.append(f"{target}: no such file")
        elif anchor and path.suffix == ".md" and anchor not in anchors(path):
            broken.append(f"{target}: no heading with anchor #{anchor} in {rel(path)}")
    assert not broken, f"{rel(doc)}: " + "; ".join(broken)


@pytest.mark.parametrize("doc", DOCS, ids=rel)
def test_pages_named_in_docs_exist(doc: Path) -> None:
    """Any ``*.md`` a page names, link or not (``EVENTS.md`` of a design folder users never see is not one)."""
    missing = sorted(
        {name for name in MD_NAME.findall(URL.sub("", text_of(doc))) if resolve_md(name, doc.parent) is None}
    )
    assert not missing, f"{rel(doc)} names pages that are not in the repository: {missing}"


@pytest.mark.parametrize("doc", DOCS, ids=rel)
def test_repository_paths_named_in_docs_exist(doc: Path) -> None:
    """A path such as ``projections/report_queries.py`` or ``tests/test_x.py::test_y`` names a file that exists."""
    missing = sorted(path for path in repo_paths(text_of(doc)) if not exists(path))
    assert not missing, f"{rel(doc)} names files that do not exist (renamed or moved?): {missing}"


# -- docstrings and comments --------------------------------------------------------------------------------------


def python_files() -> list[Path]:
    """Every module of the code folders but this one, whose examples are broken on purpose."""
    return sorted(
        p
        for d in CODE_DIRS
        for p in (ROOT / d).rglob("*.py")
        if "__pycache__" not in p.parts and p != Path(__file__).resolve()
    )


def exists(path: str) -> bool:
    return path.startswith(INSTALLED_ONLY) or (ROOT / path).exists()


def prose_of(source: str) -> Iterator[tuple[int, str]]:
    """(line, text) of every docstring, bare string statement and comment of a module."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            yield node.lineno, node.value.value
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            yield token.start[0], token.string


def strings_of(source: str) -> Iterator[tuple[int, str]]:
    """(line, text) of every string constant, e.g. an API description shown to users."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


@pytest.mark.parametrize("module", python_files(), ids=rel)
def test_files_named_in_docstrings_and_comments_exist(module: Path) -> None:
    source = module.read_text(encoding="utf-8")
    missing: set[str] = set()
    for line, text in strings_of(source):
        missing |= {
            f"l.{line}: {n}" for n in MD_NAME.findall(URL.sub("", text)) if resolve_md(n, module.parent) is None
        }
    for line, text in prose_of(source):
        text = URL.sub("", text)
        missing |= {f"l.{line}: {n}" for n in MD_NAME.findall(text) if resolve_md(n, module.parent) is None}
        missing |= {f"l.{line}: {p}" for p in repo_paths(text) if not exists(p)}
    assert not missing, f"{rel(module)} cites files that are not in the repository: {sorted(missing)}"


# -- the module map of docs/architecture.md -----------------------------------------------------------------------


def named_in_architecture() -> set[str]:
    """Module paths the architecture page names: in full, or as ``name.py`` in a row that starts with its package."""
    named: set[str] = set()
    for line in text_of(ARCHITECTURE).splitlines():
        tokens = re.findall(r"`([^`\s]+)`", line)
        named |= {t for t in tokens if t.endswith(".py")}
        package = next((t for t in tokens[:1] if t.endswith("/")), None)
        if line.startswith("|") and package:
            named |= {f"{package}{t}" for t in tokens[1:] if re.fullmatch(r"\w+\.py", t)}
            named.add(package)
    return named


def modules_of_the_packages() -> list[str]:
    out = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).parts
            if path.name == "__init__.py" or "__pycache__" in parts or "migrations" in parts:
                continue
            out.append("/".join(parts))
    return out


def test_the_architecture_page_names_every_module() -> None:
    named = named_in_architecture()
    missing = [m for m in modules_of_the_packages() if m not in named]
    assert not missing, f"docs/architecture.md, 'Module map': add a row for {missing}"
    assert "projections/migrations/" in named


def test_the_checks_above_can_fail(tmp_path: Path) -> None:
    """The patterns find what they are meant to find (so a green run means something)."""
    assert LINK.findall("see [the gateway](gateway.md#running-it) and [x](https://example.org)") == [
        "gateway.md#running-it",
        "https://example.org",
    ]
    assert MD_NAME.findall(URL.sub("", "see EVENTS.md and docs/events.md, not https://x.org/NOTES.md")) == [
        "EVENTS.md",
        "docs/events.md",
    ]
    assert REPO_PATH.findall("`projections/reporting.py` and tests/test_x.py::test_y, not schemas/<form>/X.avsc") == [
        "projections/reporting.py",
        "tests/test_x.py",
    ]
    assert repo_paths("in the style of eventsourcing's ``tests/persistence.py``, see `tests/x.py`") == {"tests/x.py"}
    assert slug("CrossingAudited (`hub.audit`)") == "crossingaudited-hubaudit"
    assert slug("Nothing lost, nothing counted twice") == "nothing-lost-nothing-counted-twice"
    assert resolve_md("EVENTS.md", tmp_path) is None
    assert exists("hub/_fx/rates.yaml") and not exists("hub/fx/rates.yaml")
    assert resolve_md("events.md", tmp_path) == ROOT / "docs" / "events.md"
    source = '"""Module doc citing ARCHITECTURE.md."""\nx = 1  # see docs/nowhere.md\n'
    assert [t for _, t in prose_of(source)] == ["Module doc citing ARCHITECTURE.md.", "# see docs/nowhere.md"]
