#!/usr/bin/python3
"""Key drivers computed independently of Polku, for its tests to compare with.

Reads a CSV of events (customer,touchpoint,kind,at,value; kind is `outcome`
or `rating`) and the driver touchpoints in order (argv[2:]), and prints:

    customers N
    r2 V
    lmg KEY V          all-subsets LMG (Shapley share of R²), by regression
    rw KEY V           Johnson's relative weights (closed form)
    effect KEY V       coefficient of rated × (rating − mean) in the full model
    raters KEY N

The model as docs/drivers.md states it: per customer the latest outcome
answer; per driver the mean of the customer's ratings given strictly before
it; per driver the two columns rated and rated × (rating − mean over raters).
Every subset's R² is an ordinary least-squares fit of the raw columns with
an intercept (numpy's SVD least squares, which drops exactly dependent
columns), the effects a statsmodels OLS of the full model — not the
product's cross-product algebra.
"""
import csv
import itertools
import math
import sys

import numpy as np
import statsmodels.api as sm


def main():
    path, drivers = sys.argv[1], sys.argv[2:]
    outcome = {}   # customer -> (at, value)
    ratings = []   # (customer, touchpoint, at, value)
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            at, value = int(row["at"]), float(row["value"])
            if row["kind"] == "outcome":
                if row["customer"] not in outcome or at >= outcome[row["customer"]][0]:
                    outcome[row["customer"]] = (at, value)
            else:
                ratings.append((row["customer"], row["touchpoint"], at, value))
    customers = sorted(outcome)
    index = {c: i for i, c in enumerate(customers)}
    n, g_count = len(customers), len(drivers)
    sums = np.zeros((n, g_count))
    counts = np.zeros((n, g_count))
    for customer, touchpoint, at, value in ratings:
        if customer not in index or touchpoint not in drivers:
            continue
        if at >= outcome[customer][0]:
            continue
        i, g = index[customer], drivers.index(touchpoint)
        sums[i, g] += value
        counts[i, g] += 1
    y = np.array([outcome[c][1] for c in customers])
    rated = (counts > 0).astype(float)
    mean_rating = np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)
    columns = []
    for g in range(g_count):
        raters = rated[:, g].sum()
        m = (mean_rating[:, g] * rated[:, g]).sum() / raters
        columns.append(np.column_stack([rated[:, g], rated[:, g] * (mean_rating[:, g] - m)]))

    tss = ((y - y.mean()) ** 2).sum()

    def varying(x):
        # A column that does not vary lies in the intercept's span; left in,
        # the exact collinearity makes pinv's cut-off (rcond 1e-15) keep a
        # rounding-level singular value and spoil the fit.
        keep = [j for j in range(x.shape[1]) if np.ptp(x[:, j]) > 0]
        return x[:, keep]

    def r2(subset):
        if not subset:
            return 0.0
        x = varying(np.column_stack([columns[g] for g in subset]))
        if x.shape[1] == 0:
            return 0.0
        # Least squares with a rank-revealing cut-off (SVD, eps·max(n, p)),
        # so that exactly dependent columns (stage alternatives) add nothing.
        design = np.column_stack([np.ones(n), x])
        resid = y - design @ np.linalg.lstsq(design, y, rcond=None)[0]
        return max(0.0, 1.0 - (resid ** 2).sum() / tss)

    r2_of = {}
    for size in range(g_count + 1):
        for subset in itertools.combinations(range(g_count), size):
            r2_of[subset] = r2(subset)
    full = r2_of[tuple(range(g_count))]
    print("customers", n)
    print("r2", repr(full))
    for g in range(g_count):
        others = [h for h in range(g_count) if h != g]
        total = 0.0
        for size in range(g_count):
            weight = math.factorial(size) * math.factorial(g_count - size - 1) / math.factorial(g_count)
            for subset in itertools.combinations(others, size):
                with_g = tuple(sorted(subset + (g,)))
                total += weight * (r2_of[with_g] - r2_of[subset])
        print("lmg", drivers[g], repr(total))

    # Johnson (2000): R = correlations of the varying columns, R^½ = VΛ^½V',
    # β = (R^½)⁺ r_xy, weight_j = Σ_k (R^½)_jk² β_k².
    x = np.column_stack(columns)
    owner = [g for g in range(g_count) for _ in range(2)]
    keep = [j for j in range(x.shape[1]) if x[:, j].std() > 1e-12 * max(1.0, np.abs(x[:, j]).max())]
    xs = x[:, keep]
    corr = np.corrcoef(np.column_stack([xs, y]), rowvar=False)
    rxx, rxy = corr[:-1, :-1], corr[:-1, -1]
    values, vectors = np.linalg.eigh(rxx)
    values = np.where(values > 1e-10 * max(values.max(), 1.0), values, 0.0)
    half = vectors @ np.diag(np.sqrt(values)) @ vectors.T
    beta = np.linalg.pinv(half, rcond=1e-10) @ rxy
    weights = (half ** 2) @ (beta ** 2)
    by_group = [0.0] * g_count
    for j, w in zip(keep, weights):
        by_group[owner[j]] += w
    for g in range(g_count):
        print("rw", drivers[g], repr(by_group[g]))

    varying_columns = [j for j in range(x.shape[1]) if np.ptp(x[:, j]) > 0]
    fit = sm.OLS(y, np.column_stack([np.ones(n), x[:, varying_columns]])).fit()
    for g in range(g_count):
        if 2 * g + 1 in varying_columns:
            print("effect", drivers[g], repr(fit.params[1 + varying_columns.index(2 * g + 1)]))
        print("raters", drivers[g], int(rated[:, g].sum()))


if __name__ == "__main__":
    main()
