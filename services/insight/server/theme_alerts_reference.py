"""The emerging test of a theme alert, computed independently with scipy.

Reads lines "x0 n0 x1 n1" (theme comments and comments, baseline weeks then
the current week) and prints "z p" per line: the pooled two-proportion z of
the rise and its two-sided p-value.
"""
import sys

import numpy as np
from scipy import stats

for line in sys.stdin:
    if not line.strip():
        continue
    x0, n0, x1, n1 = (float(v) for v in line.split())
    p0, p1 = x0 / n0, x1 / n1
    pooled = (x0 + x1) / (n0 + n1)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n0 + 1 / n1))
    z = (p1 - p0) / se
    p = 2 * stats.norm.sf(abs(z))
    print(f"{z!r} {p!r}")
