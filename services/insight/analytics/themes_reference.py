#!/usr/bin/python3
"""Independent reference for the themes' weighted log-odds (themes_test.cc).

Monroe, Colaresi and Quinn (2008), "Fightin' Words", section 3.5, with the
informative Dirichlet prior taken from both groups together, written here
from the paper's formulas, not from themes.cc.

Input (stdin), one count table per block:
    table <name> <alpha0>
    <y_low> <y_rest>        one line per term
    end
Output, per table: "table <name>", then per term "<delta> <variance> <z>"
(repr of the doubles), then "end".
"""
import sys

import numpy as np


def log_odds(y_low, y_rest, alpha0):
    y_low = np.asarray(y_low, dtype=np.float64)
    y_rest = np.asarray(y_rest, dtype=np.float64)
    n_low = y_low.sum()
    n_rest = y_rest.sum()
    # The prior: alpha0 spread over the words as their share of all counts.
    # A term in neither group has α_w = 0 and no defined δ: nan.
    alpha = alpha0 * (y_low + y_rest) / (n_low + n_rest)
    omega_low = (y_low + alpha) / (n_low + alpha0 - y_low - alpha)
    omega_rest = (y_rest + alpha) / (n_rest + alpha0 - y_rest - alpha)
    delta = np.log(omega_low) - np.log(omega_rest)
    variance = 1.0 / (y_low + alpha) + 1.0 / (y_rest + alpha)
    return delta, variance, delta / np.sqrt(variance)


def main():
    lines = iter(sys.stdin.read().splitlines())
    out = []
    for line in lines:
        if not line.startswith("table "):
            continue
        _, name, alpha0 = line.split()
        low, rest = [], []
        for row in lines:
            if row == "end":
                break
            a, b = row.split()
            low.append(int(a))
            rest.append(int(b))
        with np.errstate(divide="ignore", invalid="ignore"):
            delta, variance, z = log_odds(low, rest, float(alpha0))
        out.append("table " + name)
        for d, v, zz in zip(delta, variance, z):
            out.append("%r %r %r" % (float(d), float(v), float(zz)))
        out.append("end")
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
