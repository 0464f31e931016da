"""The figures of the three source reports, from the shipped ``seed-facts.json``.

They are not events: the demo stream (``demo.stream``) is built so that its
projections reproduce them, and report tests compare against them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from hub.errors import ConfigError


@dataclass(frozen=True)
class SeedFact:
    """One figure as a source article reports it."""

    district: str
    metric: str
    value: int
    unit: str
    zh: str
    approx: bool = False


@dataclass(frozen=True)
class DistrictFacts:
    """The figures, named projects and service areas one article gives for a district."""

    code: str
    region: str
    name_zh: str
    name_en: str
    source: str
    facts: tuple[SeedFact, ...]
    named_projects: tuple[str, ...] = ()
    service_areas: tuple[str, ...] = ()

    def fact(self, metric: str) -> SeedFact:
        """The fact called ``metric``; ConfigError if the article has none."""
        for f in self.facts:
            if f.metric == metric:
                return f
        raise ConfigError(f"seed facts: district {self.code!r} has no metric {metric!r}")

    def value(self, metric: str) -> int:
        """The value of the fact called ``metric``."""
        return self.fact(metric).value


@dataclass(frozen=True)
class SeedFacts:
    districts: dict[str, DistrictFacts]

    def district(self, code: str) -> DistrictFacts:
        """The facts of district ``code``; ConfigError if there are none."""
        try:
            return self.districts[code]
        except KeyError:
            raise ConfigError(f"seed facts: no district {code!r}") from None

    def all_facts(self) -> list[SeedFact]:
        """Every fact of every district, in file order."""
        return [f for d in self.districts.values() for f in d.facts]


def parse_seed_facts(doc: dict[str, Any]) -> SeedFacts:
    """Parse the ``seed-facts.json`` document; ConfigError names the offending entry."""
    try:
        districts: dict[str, DistrictFacts] = {}
        for code, raw in doc["districts"].items():
            facts = []
            for item in raw["facts"]:
                value = item["value"]
                if not isinstance(value, int) or isinstance(value, bool):
                    raise ConfigError(f"seed facts: {code}.{item['metric']}.value must be an integer, got {value!r}")
                facts.append(
                    SeedFact(
                        district=code,
                        metric=item["metric"],
                        value=value,
                        unit=item["unit"],
                        zh=item["zh"],
                        approx=bool(item.get("approx", False)),
                    )
                )
            districts[code] = DistrictFacts(
                code=code,
                region=raw["region"],
                name_zh=raw["name_zh"],
                name_en=raw["name_en"],
                source=raw["source"],
                facts=tuple(facts),
                named_projects=tuple(raw.get("named_projects", ())),
                service_areas=tuple(raw.get("service_areas", ())),
            )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"seed facts: malformed document ({type(exc).__name__}: {exc})") from exc
    return SeedFacts(districts=districts)


@cache
def seed_facts() -> SeedFacts:
    """The seed facts shipped with the hub (a copy of ``shared/data/seed-facts.json``)."""
    text = resources.files("demo").joinpath("seed-facts.json").read_text(encoding="utf-8")
    return parse_seed_facts(json.loads(text))
