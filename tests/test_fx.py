"""Dated exchange rates and conversion into the reporting currency."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.errors import ConfigError, ProjectionError
from hub.models import CURRENCIES, EARLIEST_DATE
from projections import fx
from projections.fx import AppliedRate, FxTable, load_rates, parse_rates

RATES: dict[str, Any] = {
    "base": "CNY",
    "source": "test",
    "rates": {
        "HKD": [{"valid_from": "2026-04-01", "rate": "0.92"}, {"valid_from": date(2020, 1, 1), "rate": "0.90"}],
        "MOP": [{"valid_from": "2020-01-01", "rate": "0.8"}],
    },
}


@pytest.fixture
def table() -> FxTable:
    return parse_rates(RATES)


def test_the_rate_in_force_on_the_local_date_is_used(table: FxTable) -> None:
    assert table.convert(Decimal("1000.00"), "HKD", date(2026, 3, 31), "CNY") == Decimal("900.00")
    assert table.convert(Decimal("1000.00"), "HKD", date(2026, 4, 1), "CNY") == Decimal("920.00")
    assert table.rate("HKD", date(2026, 4, 1), "CNY") == AppliedRate("HKD", "CNY", Decimal("0.92"), date(2026, 4, 1))
    assert table.convert(Decimal("12.34"), "CNY", date(2026, 1, 1), "CNY") == Decimal("12.34")


def test_conversion_between_two_other_currencies_goes_through_the_base(table: FxTable) -> None:
    rate = table.rate("HKD", date(2026, 5, 1), "MOP")
    assert rate.rate == Decimal("1.15")  # 0.92 / 0.8
    assert rate.valid_from == date(2026, 4, 1)
    assert table.convert(Decimal("100.00"), "HKD", date(2026, 5, 1), "MOP") == Decimal("115.00")
    # From the base into another currency: 1 / 0.9, kept to 8 places.
    assert table.rate("CNY", date(2026, 1, 1), "HKD").rate == Decimal("1.11111111")
    assert table.convert(Decimal("900.00"), "CNY", date(2026, 1, 1), "HKD") == Decimal("1000.00")


def test_amounts_round_half_even_to_the_cent() -> None:
    table = parse_rates({"base": "CNY", "source": "t", "rates": {"HKD": [{"valid_from": "2020-01-01", "rate": "0.5"}]}})
    assert table.convert(Decimal("0.05"), "HKD", date(2026, 1, 1), "CNY") == Decimal("0.02")  # 0.025 -> 0.02
    assert table.convert(Decimal("0.07"), "HKD", date(2026, 1, 1), "CNY") == Decimal("0.04")  # 0.035 -> 0.04


@given(
    amount=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("9999999999.99"), places=2),
    day=st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 1, 1)),
)
def test_a_converted_amount_can_be_recomputed_from_the_printed_rate(amount: Decimal, day: date) -> None:
    table = parse_rates(RATES)
    rate = table.rate("MOP", day, "HKD")
    assert fx.apply_rate(amount, rate) == table.convert(amount, "MOP", day, "HKD")
    assert table.convert(amount, "MOP", day, "HKD").as_tuple().exponent == -2


def test_rates_used_lists_each_distinct_rate_once(table: FxTable) -> None:
    used = table.rates_used(
        [("HKD", date(2026, 1, 5)), ("HKD", date(2026, 2, 5)), ("HKD", date(2026, 4, 5)), ("CNY", date(2026, 1, 1))],
        "CNY",
    )
    assert [(r.currency, r.rate, r.valid_from) for r in used] == [
        ("HKD", Decimal("0.90"), date(2020, 1, 1)),
        ("HKD", Decimal("0.92"), date(2026, 4, 1)),
    ]


def test_rates_in_effect_during_a_period(table: FxTable) -> None:
    q1 = table.rates_in_effect(date(2026, 1, 1), date(2026, 3, 31), "CNY")
    assert [(r.currency, r.rate) for r in q1] == [("HKD", Decimal("0.90")), ("MOP", Decimal("0.8"))]
    year = table.rates_in_effect(date(2026, 1, 1), date(2026, 12, 31), "CNY", ["HKD"])
    assert [(r.currency, r.rate) for r in year] == [("HKD", Decimal("0.90")), ("HKD", Decimal("0.92"))]


def test_missing_rates_name_the_currency_and_the_date(table: FxTable) -> None:
    with pytest.raises(ProjectionError, match=r"currency: no exchange rate for 'USD'"):
        table.convert(Decimal(1), "USD", date(2026, 1, 1), "CNY")
    with pytest.raises(
        ProjectionError, match=r"no HKD rate in force on 2019-12-31; the earliest is valid from 2020-01-01"
    ):
        table.convert(Decimal(1), "HKD", date(2019, 12, 31), "CNY")
    with pytest.raises(ProjectionError, match="USD"):
        table.convert(Decimal(1), "USD", date(2026, 1, 1), "USD")


def test_the_shipped_rates_cover_every_currency_and_date_the_hub_accepts() -> None:
    shipped = load_rates()
    assert "illustrative" in shipped.source.lower()
    assert set(shipped.currencies) == set(CURRENCIES)
    for currency in CURRENCIES:
        shipped.rate(currency, EARLIEST_DATE, "CNY")
        assert fx.convert(Decimal("100.00"), currency, date(2026, 6, 1), "CNY") > 0
    assert fx.default_rates_path().name == "rates.yaml"
    assert "illustrative placeholders" in fx.default_rates_path().read_text(encoding="utf-8").lower()


def test_a_rates_file_is_read_from_disk(tmp_path: Path) -> None:
    path = tmp_path / "rates.yaml"
    path.write_text('base: CNY\nsource: "x"\nrates:\n  HKD:\n    - {valid_from: 2020-01-01, rate: "0.9"}\n')
    assert load_rates(path).convert(Decimal("10.00"), "HKD", date(2026, 1, 1), "CNY") == Decimal("9.00")
    with pytest.raises(ConfigError, match="cannot read exchange rates"):
        load_rates(tmp_path / "missing.yaml")
    path.write_text("base: [unclosed\n")
    with pytest.raises(ConfigError, match="cannot read exchange rates"):
        load_rates(path)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([], "expected a mapping"),
        ({"base": "cny", "source": "s", "rates": {}}, "base must be an ISO 4217 code"),
        ({"base": "CNY", "source": " ", "rates": {}}, "source must say where"),
        ({"base": "CNY", "source": "s", "rates": []}, "rates must map each currency"),
        ({"base": "CNY", "source": "s", "rates": {"hkd": [{"valid_from": "2020-01-01", "rate": "1"}]}}, "not an ISO"),
        (
            {"base": "CNY", "source": "s", "rates": {"CNY": [{"valid_from": "2020-01-01", "rate": "1"}]}},
            "base currency",
        ),
        ({"base": "CNY", "source": "s", "rates": {"HKD": []}}, "rates.HKD must be a non-empty list"),
        ({"base": "CNY", "source": "s", "rates": {"HKD": ["x"]}}, r"rates.HKD\[0\]: expected"),
        ({"base": "CNY", "source": "s", "rates": {"HKD": [{"valid_from": "2020-13-01", "rate": "1"}]}}, "valid_from"),
        ({"base": "CNY", "source": "s", "rates": {"HKD": [{"valid_from": 5, "rate": "1"}]}}, "valid_from"),
        (
            {"base": "CNY", "source": "s", "rates": {"HKD": [{"valid_from": "2020-01-01", "rate": "x"}]}},
            "not a decimal",
        ),
        ({"base": "CNY", "source": "s", "rates": {"HKD": [{"valid_from": "2020-01-01", "rate": "-1"}]}}, "positive"),
        ({"base": "CNY", "source": "s", "rates": {"HKD": [{"valid_from": "2020-01-01", "rate": "NaN"}]}}, "positive"),
        (
            {"base": "CNY", "source": "s", "rates": {"HKD": [{"valid_from": "2020-01-01", "rate": True}]}},
            "decimal number",
        ),
        (
            {"base": "CNY", "source": "s", "rates": {"HKD": [{"valid_from": "2020-01-01", "rate": "0.123456789"}]}},
            "at most 8 decimal places",
        ),
        (
            {
                "base": "CNY",
                "source": "s",
                "rates": {
                    "HKD": [{"valid_from": "2020-01-01", "rate": "1"}, {"valid_from": "2020-01-01", "rate": "2"}]
                },
            },
            "two entries valid from 2020-01-01",
        ),
    ],
)
def test_a_bad_rates_file_is_refused_with_the_entry_at_fault(doc: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_rates(doc, origin="rates.yaml")
