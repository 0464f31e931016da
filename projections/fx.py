"""Dated exchange rates and money conversion into the reporting currency.

Pure, except :func:`load_rates` and :func:`default_rates_path`, which read
the rates file (the shipped one once per process; a file that cannot be read
or parsed is a :class:`~hub.errors.ConfigError` naming the entry at fault).
Rates come from a dated file (``fx/rates.yaml``): for each currency, the
units of the base currency (CNY) one unit buys, from a ``valid_from`` date.
An amount is converted with the rate in force on its event's local date
(Asia/Shanghai); conversions between two non-base currencies go through the
base. Rates are kept to 8 decimal places and amounts are rounded half-even to
0.01, so an amount in a report can be recomputed from the rate it prints.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any, Final

import yaml

import hub
from hub.errors import ConfigError, ProjectionError

RATE_PLACES: Final = 8
_RATE_STEP: Final = Decimal(1).scaleb(-RATE_PLACES)
_CENT: Final = Decimal("0.01")
_PACKAGE_DIR: Final = Path(__file__).resolve().parent
_HUB_DIR: Final = Path(hub.__file__).resolve().parent


@dataclass(frozen=True)
class RateEntry:
    """One line of the rates file: ``rate`` units of the base per unit of ``currency`` from ``valid_from``."""

    currency: str
    valid_from: date
    rate: Decimal


@dataclass(frozen=True)
class AppliedRate:
    """A rate as used in a conversion: ``rate`` units of ``to`` per unit of ``currency``.

    ``valid_from`` is the date from which this rate is in force (for a cross
    rate, the later of its two legs).
    """

    currency: str
    to: str
    rate: Decimal
    valid_from: date


@dataclass(frozen=True)
class FxTable:
    """The parsed rates file."""

    base: str
    source: str
    entries: Mapping[str, tuple[RateEntry, ...]]

    @property
    def currencies(self) -> tuple[str, ...]:
        """Every currency the table can convert, the base first."""
        return (self.base, *sorted(c for c in self.entries if c != self.base))

    def _leg(self, currency: str, on: date) -> tuple[Decimal, date]:
        if currency == self.base:
            return Decimal(1), date.min
        entries = self.entries.get(currency)
        if not entries:
            raise ProjectionError(
                f"currency: no exchange rate for {currency!r}; the rates file knows {', '.join(self.currencies)}"
            )
        index = bisect.bisect_right([e.valid_from for e in entries], on) - 1
        if index < 0:
            raise ProjectionError(
                f"currency: no {currency} rate in force on {on.isoformat()}; "
                f"the earliest is valid from {entries[0].valid_from.isoformat()}"
            )
        return entries[index].rate, entries[index].valid_from

    def rate(self, currency: str, on: date, to: str) -> AppliedRate:
        """The rate converting ``currency`` into ``to`` on the local date ``on``."""
        if currency == to:
            self._leg(currency, on)  # still refuse a currency the table does not know
            return AppliedRate(currency, to, Decimal(1), date.min)
        from_rate, from_valid = self._leg(currency, on)
        to_rate, to_valid = self._leg(to, on)
        value = (from_rate / to_rate).quantize(_RATE_STEP, rounding=ROUND_HALF_EVEN)
        return AppliedRate(currency, to, value, max(from_valid, to_valid))

    def convert(self, amount: Decimal, currency: str, on: date, to: str) -> Decimal:
        """``amount`` of ``currency`` in ``to`` on ``on``, rounded half-even to 0.01."""
        return apply_rate(amount, self.rate(currency, on, to))

    def rates_used(self, uses: Iterable[tuple[str, date]], to: str) -> list[AppliedRate]:
        """The distinct rates that converting ``(currency, local date)`` pairs into ``to`` used."""
        used = {self.rate(currency, on, to) for currency, on in uses if currency != to}
        return sorted(used, key=lambda r: (r.currency, r.valid_from))

    def rates_in_effect(
        self, start: date, end: date, to: str, currencies: Iterable[str] | None = None
    ) -> list[AppliedRate]:
        """Every rate into ``to`` in force at some day of ``[start, end]`` (e.g. a report period)."""
        wanted = [c for c in (currencies if currencies is not None else self.currencies) if c != to]
        days: set[tuple[str, date]] = set()
        for currency in wanted:
            days.add((currency, start))
            for leg in (currency, to):
                for entry in self.entries.get(leg, ()):
                    if start < entry.valid_from <= end:
                        days.add((currency, entry.valid_from))
        return self.rates_used(sorted(days), to)


def apply_rate(amount: Decimal, rate: AppliedRate) -> Decimal:
    """``amount`` times ``rate``, rounded half-even to 0.01."""
    return (Decimal(amount) * rate.rate).quantize(_CENT, rounding=ROUND_HALF_EVEN)


def default_rates_path() -> Path:
    """The shipped rates: ``hub/_fx/rates.yaml`` in an installed wheel, ``fx/rates.yaml`` in a checkout."""
    installed, checkout = _HUB_DIR / "_fx" / "rates.yaml", _PACKAGE_DIR.parent / "fx" / "rates.yaml"
    for candidate in (installed, checkout):
        if candidate.is_file():
            return candidate
    raise ConfigError(f"no exchange-rate file: neither {installed} nor {checkout}")


def load_rates(path: Path | None = None) -> FxTable:
    """Parse a rates file (default: :func:`default_rates_path`); ConfigError names the file and entry at fault."""
    if path is None:
        return _default_table()
    return _load(path)


@cache
def _default_table() -> FxTable:
    return _load(default_rates_path())


def convert(amount: Decimal, currency: str, on: date, to: str, table: FxTable | None = None) -> Decimal:
    """Convert with ``table`` (default: the shipped rates), rounding half-even to 0.01."""
    return (table or load_rates()).convert(amount, currency, on, to)


def rates_used(uses: Iterable[tuple[str, date]], to: str, table: FxTable | None = None) -> list[AppliedRate]:
    """The distinct rates that converting ``(currency, local date)`` pairs into ``to`` used."""
    return (table or load_rates()).rates_used(uses, to)


def _load(path: Path) -> FxTable:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read exchange rates {path}: {exc}") from exc
    return parse_rates(doc, origin=str(path))


def parse_rates(doc: Any, origin: str = "rates") -> FxTable:
    """Build an :class:`FxTable` from the parsed YAML document."""
    if not isinstance(doc, dict):
        raise ConfigError(f"{origin}: expected a mapping with base, source and rates")
    base = doc.get("base")
    if not isinstance(base, str) or len(base) != 3 or not base.isupper():
        raise ConfigError(f"{origin}: base must be an ISO 4217 code such as CNY, got {base!r}")
    source = doc.get("source")
    if not isinstance(source, str) or not source.strip():
        raise ConfigError(f"{origin}: source must say where the rates come from")
    rates = doc.get("rates")
    if not isinstance(rates, dict):
        raise ConfigError(f"{origin}: rates must map each currency to a list of {{valid_from, rate}} entries")
    entries: dict[str, tuple[RateEntry, ...]] = {}
    for currency, items in rates.items():
        if not isinstance(currency, str) or len(currency) != 3 or not currency.isupper():
            raise ConfigError(f"{origin}: rates: {currency!r} is not an ISO 4217 code")
        if currency == base:
            raise ConfigError(f"{origin}: rates.{currency}: the base currency converts at 1 and takes no entries")
        if not isinstance(items, list) or not items:
            raise ConfigError(f"{origin}: rates.{currency} must be a non-empty list of {{valid_from, rate}}")
        parsed = [_entry(currency, i, item, origin) for i, item in enumerate(items)]
        parsed.sort(key=lambda e: e.valid_from)
        for before, after in pairwise(parsed):
            if before.valid_from == after.valid_from:
                raise ConfigError(f"{origin}: rates.{currency}: two entries valid from {after.valid_from.isoformat()}")
        entries[currency] = tuple(parsed)
    return FxTable(base=base, source=source.strip(), entries=entries)


def _entry(currency: str, index: int, item: Any, origin: str) -> RateEntry:
    where = f"{origin}: rates.{currency}[{index}]"
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: expected {{valid_from, rate}}")
    valid_from = item.get("valid_from")
    if isinstance(valid_from, str):
        try:
            valid_from = date.fromisoformat(valid_from)
        except ValueError as exc:
            raise ConfigError(f"{where}.valid_from: {valid_from!r} is not a YYYY-MM-DD date") from exc
    if not isinstance(valid_from, date):
        raise ConfigError(f"{where}.valid_from: must be a YYYY-MM-DD date")
    raw = item.get("rate")
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise ConfigError(f'{where}.rate: must be a decimal number, preferably quoted ("0.9123")')
    try:
        rate = Decimal(str(raw).strip())
    except InvalidOperation as exc:
        raise ConfigError(f"{where}.rate: {raw!r} is not a decimal number") from exc
    if not rate.is_finite() or rate <= 0:
        raise ConfigError(f"{where}.rate: must be a positive number, got {raw!r}")
    exponent = rate.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -RATE_PLACES:
        raise ConfigError(f"{where}.rate: at most {RATE_PLACES} decimal places, got {raw!r}")
    return RateEntry(currency=currency, valid_from=valid_from, rate=rate)
