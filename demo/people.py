"""Invented, deterministic personal data in the style of a region: names, identity numbers, phones.

Pure; every value comes from the caller's ``random.Random``. Names are three
Chinese characters (simplified on the mainland, traditional in Hong Kong and
Macao), distinctive enough for the gateway's tests to scan shared bytes for.
Identity numbers and phones are unique per :class:`People` (one per district).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta
from typing import Final

from demo.check_digits import hkid_check, macao_check, mainland_id_check
from demo.districts import NANSHAN
from demo.sampling import pick

_SURNAMES_SC: Final = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余"
    "于杜叶程魏苏吕丁任卢姚沈钟姜崔谭陆范汪廖石金贾夏付方邹熊白孟秦邱侯江尹薛段雷黎史"
    "陶贺毛郝顾龚邵万钱严戴"
)
_GIVEN_SC: Final = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建文辉鹏宇浩凯晨欣怡婷雪"
    "琳晶颖佳瑞思梓轩涵睿博嘉昊雨泽俊志海国庆福春秋冬梅菊凤云飞德成荣松柏慧淑琴珍妍彤"
    "萱蕾薇琪璐瑶倩"
)
_SURNAMES_TC: Final = "陳李張黃何林吳劉梁鄭謝曾蔡許葉郭馮羅潘鄧袁麥朱周蕭胡盧譚楊余區關莫杜歐岑翁龐馬"
_GIVEN_TC: Final = "嘉欣偉明志強家俊詠詩穎慧敏文美玲婷儀子浩樂晴恩澤朗軒錦雅麗芷琪寶珊鳳蓮華輝榮彥卓頌霖曉芯蔚"
_HKID_LETTERS: Final = "ACDEGHKPRVYZ"
_NANSHAN_MIGRANT_AREAS: Final = ("430102", "360102", "420102", "441502", "450102", "510104", "350102", "445102")
#: Resident-ID area codes drawn per district (``440305``, Nanshan, for a district not listed).
AREA_CODES: Final[dict[str, tuple[str, ...]]] = {
    NANSHAN: ("440305",) * 6 + _NANSHAN_MIGRANT_AREAS,
    "guangzhou-tianhe": ("440106", "440106", "440106", "440104", "441802"),
    "zhuhai-xiangzhou": ("440402", "440402", "440402", "440404", "442000"),
}


class People:
    """Invented, deterministic personal data in the style of one region."""

    def __init__(self, rng: random.Random, region: str, areas: tuple[str, ...] = ("440305",)) -> None:
        self.rng = rng
        self.region = region
        self.traditional = region in ("HK", "MO")
        self.surnames = _SURNAMES_TC if self.traditional else _SURNAMES_SC
        self.given = _GIVEN_TC if self.traditional else _GIVEN_SC
        self.areas = areas
        self.used: set[str] = set()

    def name(self) -> str:
        """A three-character Chinese name (distinctive enough to scan for in shared bytes)."""
        r = self.rng
        return r.choice(self.surnames) + r.choice(self.given) + r.choice(self.given)

    def _unique(self, make: Callable[[], str]) -> str:
        while True:
            value = make()
            if value not in self.used:
                self.used.add(value)
                return value

    def id_number(self, birth_year: int, gender: str) -> str:
        """A resident ID (mainland, valid check digit), HKID or Macao BIR number."""
        r = self.rng
        if self.region == "HK":

            def hkid() -> str:
                letter = r.choice(_HKID_LETTERS)
                digits = f"{r.randrange(1_000_000):06d}"
                return f"{letter}{digits}({hkid_check(letter, digits)})"

            return self._unique(hkid)
        if self.region == "MO":

            def bir() -> str:
                digits = r.choice("157") + f"{r.randrange(1_000_000):06d}"
                return f"{digits}({macao_check(digits)})"

            return self._unique(bir)

        def resident() -> str:
            born = date(birth_year, 1, 1) + timedelta(days=r.randrange(365))
            seq = r.randrange(500) * 2 + (1 if gender == "M" else 0 if gender == "F" else r.randrange(2))
            body = f"{r.choice(self.areas)}{born:%Y%m%d}{seq:03d}"
            return body + mainland_id_check(body)

        return self._unique(resident)

    def phone(self) -> str:
        """A mobile number in the region's style, E.164 with spaces."""
        r = self.rng
        if self.region == "HK":
            return self._unique(lambda: f"+852 {r.choice('569')}{r.randrange(1000):03d} {r.randrange(10000):04d}")
        if self.region == "MO":
            return self._unique(lambda: f"+853 6{r.randrange(1000):03d} {r.randrange(10000):04d}")
        return self._unique(
            lambda: f"+86 1{r.choice('35789')}{r.randrange(10)} {r.randrange(10000):04d} {r.randrange(10000):04d}"
        )

    def client_id(self, prefix: str) -> str:
        """The district's own person identifier, unique in the district."""
        r = self.rng
        return self._unique(lambda: f"{prefix}-P-{r.randrange(10**7):07d}")

    def gender(self) -> str:
        return pick(self.rng, (("F", 52), ("M", 47), ("UNKNOWN", 1)))


__all__ = ["AREA_CODES", "People"]
