"""How sure a solve rate is: the 95 % Wilson score interval of ``k`` seeds solving out of ``n``.

A study's 27/32 is one draw of 32 seeds; the interval is where the rate over all seeds lies, with
95 % confidence. Wilson's interval, not the normal approximation p ± 1.96·sqrt(p(1-p)/n): that one has
no width at 0/n and n/n (a study where every seed solves would claim certainty) and leaves [0, 1]
near them; Wilson's stays inside and covers about 95 % for every rate (Brown, Cai & DasGupta 2001).
"""

from __future__ import annotations

import math

#: The normal quantile of a two-sided 95 % interval.
Z95 = 1.959963984540054


def wilson_interval(solved: int, seeds: int, z: float = Z95) -> tuple[float, float]:
    """The interval (low, high) of the rate ``solved / seeds``."""
    if not 0 <= solved <= seeds or seeds < 1:
        raise ValueError(f"a rate needs 0 <= solved <= seeds and seeds >= 1, got {solved}/{seeds}")
    p, z2 = solved / seeds, z * z
    centre = (p + z2 / (2 * seeds)) / (1 + z2 / seeds)
    half = z * math.sqrt(p * (1 - p) / seeds + z2 / (4 * seeds * seeds)) / (1 + z2 / seeds)
    # (At 0/n and n/n the bound is exactly 0 or 1; the formula leaves a rounding error there.)
    low = 0.0 if solved == 0 else max(0.0, centre - half)
    high = 1.0 if solved == seeds else min(1.0, centre + half)
    return low, high


def interval_text(solved: int, seeds: int) -> str:
    """``[69-94]``: the interval in whole percent, as the report's tables write it beside 27/32."""
    low, high = wilson_interval(solved, seeds)
    return f"[{math.floor(low * 100)}-{math.ceil(high * 100)}]"
