"""The districts of the demo data: three with source figures, nine illustrative, and each region's currency.

The source districts (Shenzhen Nanshan, Yancheng Tinghu, Jinjiang) are those of
``seed-facts.json``; the illustrative ones (Hong Kong, Macao, Guangzhou Tianhe,
Zhuhai Xiangzhou) have no figures and get a little invented data, marked as
:mod:`hub.provenance` says.
"""

from __future__ import annotations

from typing import Final

NANSHAN: Final = "shenzhen-nanshan"
TINGHU: Final = "yancheng-tinghu"
JINJIANG: Final = "jinjiang"
SOURCE_DISTRICTS: Final[tuple[str, ...]] = (NANSHAN, TINGHU, JINJIANG)
ILLUSTRATIVE_DISTRICTS: Final[tuple[str, ...]] = (
    "guangzhou-tianhe",
    "zhuhai-xiangzhou",
    "hk-sham-shui-po",
    "hk-kwun-tong",
    "hk-tuen-mun",
    "hk-sha-tin",
    "mo-fatima",
    "mo-sao-lourenco",
    "mo-taipa",
)
CURRENCY_OF_REGION: Final[dict[str, str]] = {"GD": "CNY", "JS": "CNY", "FJ": "CNY", "HK": "HKD", "MO": "MOP"}


__all__ = ["CURRENCY_OF_REGION", "ILLUSTRATIVE_DISTRICTS", "JINJIANG", "NANSHAN", "SOURCE_DISTRICTS", "TINGHU"]
