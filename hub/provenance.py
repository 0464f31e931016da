"""How records that are illustrative, not reported, are marked: one convention for the demo and the reports.

Pure constants. Some demo districts have no source figures; the demo data
invents a little for them and marks every such record so that it can never be
mistaken for a reported statistic downstream:

- every illustrative case has ``referral_source`` :data:`ILLUSTRATIVE_REFERRAL`;
- every illustrative project name ends with :data:`ILLUSTRATIVE_MARK`.

Both fields survive the crossing (the agreements keep them), so the read models
can find illustrative districts and the report prints a caveat naming them
(``projections.report_queries``). The demo (``demo/``) writes the marks; the
production code reads the convention from here and never imports the demo.
"""

from __future__ import annotations

from typing import Final

ILLUSTRATIVE_REFERRAL: Final = "illustrative-demo"
"""``referral_source`` of every illustrative case."""
ILLUSTRATIVE_MARK: Final = "（示例）"
"""Suffix of every illustrative project name ("example", full-width parentheses)."""

__all__ = ["ILLUSTRATIVE_MARK", "ILLUSTRATIVE_REFERRAL"]
