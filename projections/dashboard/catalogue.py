"""The dashboard's message catalogue: every label, indicator name, unit and message in three languages.

One file, ``messages.json`` beside this module, holds every text the page
shows, in Simplified Chinese (``zh-Hans``), Traditional Chinese (``zh-Hant``)
and English (``en``). :func:`catalogue` reads it once and checks it
(:func:`problems`): a missing language, an empty text or placeholders that
differ between languages stop the dashboard from being served, so a page can
never show a key instead of a text. Pure but for reading the shipped file.
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Final

from hub.errors import ConfigError

LANGUAGES: Final[tuple[str, ...]] = ("zh-Hans", "zh-Hant", "en")
"""The languages of the dashboard, in the order the switch offers them."""
DEFAULT_LANGUAGE: Final = "en"
SECTIONS: Final[tuple[str, ...]] = ("ui", "indicators", "descriptions", "units", "places", "values")
"""``ui``: labels and messages; ``indicators``/``descriptions``: per indicator; ``units``; ``places``
(zones, regions, districts); ``values``: enum symbols (donor types, evaluation outcomes)."""


@dataclass(frozen=True)
class Catalogue:
    """The parsed catalogue: ``languages`` (code -> name and locale) and ``texts[section][key][language]``."""

    languages: Mapping[str, Mapping[str, str]]
    texts: Mapping[str, Mapping[str, Mapping[str, str]]]

    def text(self, section: str, key: str, language: str) -> str:
        """One text; KeyError names the section, key and language when it is missing."""
        try:
            return self.texts[section][key][language]
        except KeyError as exc:
            raise KeyError(f"messages.json has no {section}.{key} in {language}") from exc

    def document(self) -> dict[str, Any]:
        """The catalogue as the page loads it (``/dashboard/messages.json``)."""
        return {"languages": dict(self.languages), "default": DEFAULT_LANGUAGE, **self.texts}


def _fields(text: str) -> list[str]:
    return sorted(name for _, name, _, _ in string.Formatter().parse(text) if name is not None)


def problems(doc: Mapping[str, Any], *, required: Mapping[str, Iterable[str]] = {}) -> list[str]:
    """What is wrong with a catalogue document: each problem names the section, the key and the language.

    ``required`` maps a section to keys it must hold (e.g. every indicator of the catalogue).
    """
    out: list[str] = []
    languages = doc.get("languages")
    if not isinstance(languages, Mapping) or set(languages) != set(LANGUAGES):
        out.append(f"languages: expected exactly {', '.join(LANGUAGES)}")
    else:
        out += [
            f"languages.{code}: needs a name and a locale"
            for code, v in languages.items()
            if not (isinstance(v, Mapping) and v.get("name") and v.get("locale"))
        ]
    for section in SECTIONS:
        entries = doc.get(section)
        if not isinstance(entries, Mapping):
            out.append(f"{section}: missing section")
            continue
        for key, texts in entries.items():
            if not isinstance(texts, Mapping):
                out.append(f"{section}.{key}: expected an object of languages")
                continue
            for language in LANGUAGES:
                text = texts.get(language)
                if not isinstance(text, str) or not text.strip():
                    out.append(f"{section}.{key}: no {language} text")
            extra = set(texts) - set(LANGUAGES)
            if extra:
                out.append(f"{section}.{key}: unknown language(s) {', '.join(sorted(extra))}")
            shapes = {lang: _fields(t) for lang, t in texts.items() if isinstance(t, str)}
            if len({tuple(s) for s in shapes.values()}) > 1:
                out.append(f"{section}.{key}: placeholders differ between languages: {shapes}")
        for key in required.get(section, ()):
            if key not in entries:
                out.append(f"{section}.{key}: missing")
    return out


def required_keys() -> dict[str, list[str]]:
    """What the hub needs a text for: every indicator, its unit, every zone, region and district."""
    from hub.orgunits import org_units
    from hub.zones import ZONES
    from projections.indicators import INDICATORS

    units = org_units()
    return {
        "indicators": [i.name for i in INDICATORS],
        "descriptions": [i.name for i in INDICATORS],
        "units": sorted({i.unit for i in INDICATORS}),
        "places": [*ZONES, *units.regions, *units.districts],
    }


def parse(doc: Mapping[str, Any]) -> Catalogue:
    """A checked :class:`Catalogue`; :class:`ConfigError` listing every problem otherwise."""
    found = problems(doc, required=required_keys())
    if found:
        raise ConfigError("the dashboard's messages.json is incomplete: " + "; ".join(found))
    return Catalogue(
        languages={k: dict(v) for k, v in doc["languages"].items()},
        texts={s: {k: dict(v) for k, v in doc[s].items()} for s in SECTIONS},
    )


def load_document() -> dict[str, Any]:
    """The shipped ``messages.json``, unchecked."""
    text = resources.files("projections.dashboard").joinpath("messages.json").read_text(encoding="utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc


@cache
def catalogue() -> Catalogue:
    """The shipped catalogue, read and checked once."""
    return parse(load_document())


__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "SECTIONS", "Catalogue", "catalogue", "load_document", "parse", "problems"]
