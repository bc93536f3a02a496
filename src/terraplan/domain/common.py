"""Small value types shared by the domain objects."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt


class CoordSystem(StrEnum):
    """How account and rep locations are expressed.

    ``LATLON``: ``x`` is longitude and ``y`` latitude in degrees (GeoJSON order); distances are
    great-circle (haversine) kilometres. ``PLANAR``: ``x``/``y`` in any planar unit; distances are
    euclidean in that unit.
    """

    LATLON = "latlon"
    PLANAR = "planar"


@dataclass(frozen=True, slots=True)
class Point:
    """A location: ``x`` = longitude (or planar x), ``y`` = latitude (or planar y)."""

    x: float
    y: float


def frozen(a: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Return ``a`` marked read-only (domain arrays are immutable)."""
    a.flags.writeable = False
    return a


@dataclass(frozen=True, slots=True)
class Categorical:
    """A categorical column: ``codes[i]`` indexes ``categories``; ``-1`` means missing.

    Memory-light for large books and lets solvers test eligibility with integer comparisons.
    """

    codes: npt.NDArray[np.int32]
    categories: tuple[str, ...]

    @classmethod
    def from_values(cls, values: Iterable[str | None]) -> Categorical:
        cats: dict[str, int] = {}
        codes = []
        for v in values:
            if v is None or v == "":
                codes.append(-1)
            else:
                codes.append(cats.setdefault(v, len(cats)))
        return cls(frozen(np.asarray(codes, dtype=np.int32)), tuple(cats))

    @classmethod
    def from_codes(cls, codes: npt.ArrayLike, categories: Sequence[str]) -> Categorical:
        c = np.asarray(codes, dtype=np.int32)
        if c.size and (c.max() >= len(categories) or c.min() < -1):
            raise ValueError("categorical code out of range")
        return cls(frozen(c), tuple(categories))

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    def value(self, i: int) -> str | None:
        c = int(self.codes[i])
        return None if c < 0 else self.categories[c]

    def values(self) -> list[str | None]:
        cats = self.categories
        return [None if c < 0 else cats[c] for c in self.codes.tolist()]

    def code_of(self, value: str) -> int:
        """Code of ``value``, or -1 when it does not occur."""
        try:
            return self.categories.index(value)
        except ValueError:
            return -1

    def take(self, idx: npt.NDArray[np.intp]) -> Categorical:
        return Categorical(frozen(self.codes[idx].copy()), self.categories)
