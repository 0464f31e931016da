"""Re-export of the demo data's entry points, which now live in modules by concept.

The demo data is :mod:`demo.stream` (``generate``, ``planned_counts``),
:mod:`demo.coverage` (which events carry which seed figure),
:mod:`demo.districts`, :mod:`demo.generators` and :mod:`demo.writers`. This
module keeps ``from demo.data import ...`` working for the benchmarks and
``tests/test_report.py``; new code imports the modules above.
"""

from __future__ import annotations

from demo.coverage import FactCoverage, fact_coverage
from demo.districts import JINJIANG, NANSHAN, TINGHU
from demo.stream import generate

__all__ = ["JINJIANG", "NANSHAN", "TINGHU", "FactCoverage", "fact_coverage", "generate"]
