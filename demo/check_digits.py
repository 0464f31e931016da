"""Check characters of the invented identity numbers: mainland resident ID, HKID and Macao BIR.

Pure. The mainland and Hong Kong check characters follow the published
algorithms (GB 11643; the HKID modulus-11 rule), so the demo's numbers look
valid to a checker. Macao publishes no algorithm: :func:`macao_check` is
synthetic and only the ``1234567(8)`` format is meaningful.
"""

from __future__ import annotations

from typing import Final

_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK: Final = "10X98765432"


def mainland_id_check(body17: str) -> str:
    """The GB 11643 check character of the first 17 digits of a resident ID number."""
    return _ID_CHECK[sum(int(c) * w for c, w in zip(body17, _ID_WEIGHTS, strict=True)) % 11]


def hkid_check(letter: str, digits: str) -> str:
    """The check character of a single-letter HKID ``letter`` + six ``digits``."""
    total = (
        36 * 9
        + (ord(letter) - ord("A") + 10) * 8
        + sum(int(d) * w for d, w in zip(digits, (7, 6, 5, 4, 3, 2), strict=True))
    )
    check = (11 - total % 11) % 11
    return "A" if check == 10 else str(check)


def macao_check(digits: str) -> str:
    """A check digit for a Macao BIR number's seven ``digits``.

    Synthetic: no official algorithm is published; the demo only promises the ``1234567(8)`` format.
    """
    return str(sum(int(d) * w for d, w in zip(digits, (8, 7, 6, 5, 4, 3, 2), strict=True)) % 10)


__all__ = ["hkid_check", "macao_check", "mainland_id_check"]
