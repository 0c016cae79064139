#!/usr/bin/python3
"""Independent reference for the themes' weighted log-odds (themes_test.cc).

Monroe, Colaresi and Quinn (2008), "Fightin' Words", section 3.5: the
log-odds ratio with an informative prior taken from both groups together,
written here from the paper's formulas, not from themes.cc. Polku applies it
per term to two categories, comments that mention the term and comments that
do not, so the Dirichlet prior is a Beta and the variance of each group's
log-odds has both categories' terms.

Input (stdin), one count table per block:
    table <name> <alpha0> <comments_low> <comments_rest>
    <y_low> <y_rest>        one line per term: comments mentioning it
    end
Output, per table: "table <name>", then per term "<delta> <variance> <z>"
(repr of the doubles), then "end".
"""
import sys

import numpy as np


def log_odds(y_low, y_rest, n_low, n_rest, alpha0):
    y_low = np.asarray(y_low, dtype=np.float64)
    y_rest = np.asarray(y_rest, dtype=np.float64)
    # The prior: alpha0 comments, mentioning the term at its share of all
    # comments. A term in no comment has alpha_w = 0 and no defined delta.
    alpha = alpha0 * (y_low + y_rest) / (n_low + n_rest)
    mention_low = y_low + alpha
    silent_low = n_low + alpha0 - y_low - alpha
    mention_rest = y_rest + alpha
    silent_rest = n_rest + alpha0 - y_rest - alpha
    delta = (np.log(mention_low) - np.log(silent_low)
             - (np.log(mention_rest) - np.log(silent_rest)))
    variance = (1.0 / mention_low + 1.0 / silent_low
                + 1.0 / mention_rest + 1.0 / silent_rest)
    return delta, variance, delta / np.sqrt(variance)


def main():
    lines = iter(sys.stdin.read().splitlines())
    out = []
    for line in lines:
        if not line.startswith("table "):
            continue
        _, name, alpha0, n_low, n_rest = line.split()
        low, rest = [], []
        for row in lines:
            if row == "end":
                break
            a, b = row.split()
            low.append(int(a))
            rest.append(int(b))
        with np.errstate(divide="ignore", invalid="ignore"):
            delta, variance, z = log_odds(low, rest, float(n_low),
                                          float(n_rest), float(alpha0))
        out.append("table " + name)
        for d, v, zz in zip(delta, variance, z):
            out.append("%r %r %r" % (float(d), float(v), float(zz)))
        out.append("end")
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
