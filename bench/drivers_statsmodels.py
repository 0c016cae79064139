#!/usr/bin/python3
"""The analyst's way, for polku-drivers-bench to be compared with.

Reads the CSV polku-drivers-bench --export_csv writes (customer,touchpoint,
kind,at,value), builds the same per-customer design as GetKeyDrivers (per
touchpoint: rated, rated x (rating - mean); ratings before the outcome
answer only), and computes LMG over all subsets of touchpoint groups with
statsmodels OLS, one regression per subset — and, for intervals, the same
again per bootstrap replicate.

    /usr/bin/python3 bench/drivers_statsmodels.py /tmp/polku-drivers-bench.csv \
        --touchpoints 12 --replicates 200 --fits 64

Loading and the design are measured in full. The regressions are measured
on --fits random subsets and extrapolated to the 2^k subsets of one LMG
(and to (replicates + 1) of them): running all of them at a million
customers takes hours. Prints each time.
"""
import argparse
import csv
import random
import time

import numpy as np
import statsmodels.api as sm


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("csv")
    parser.add_argument("--touchpoints", type=int, default=12)
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--fits", type=int, default=64)
    args = parser.parse_args()

    started = time.perf_counter()
    keys = [f"tp{i}" for i in range(args.touchpoints)]
    index_of_key = {k: i for i, k in enumerate(keys)}
    outcome = {}
    ratings = []
    with open(args.csv, newline="") as f:
        for row in csv.DictReader(f):
            if row["kind"] == "outcome":
                at = int(row["at"])
                if row["customer"] not in outcome or at >= outcome[row["customer"]][0]:
                    outcome[row["customer"]] = (at, float(row["value"]))
            else:
                ratings.append((row["customer"], row["touchpoint"], int(row["at"]), float(row["value"])))
    loaded = time.perf_counter()

    customers = sorted(outcome)
    row_of = {c: i for i, c in enumerate(customers)}
    n, g = len(customers), len(keys)
    sums = np.zeros((n, g))
    counts = np.zeros((n, g))
    for customer, touchpoint, at, value in ratings:
        i = row_of.get(customer)
        if i is None or at >= outcome[customer][0]:
            continue
        j = index_of_key[touchpoint]
        sums[i, j] += value
        counts[i, j] += 1
    y = np.array([outcome[c][1] for c in customers])
    rated = (counts > 0).astype(float)
    mean = np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)
    columns = []
    for j in range(g):
        m = (mean[:, j] * rated[:, j]).sum() / rated[:, j].sum()
        columns.append(np.column_stack([rated[:, j], rated[:, j] * (mean[:, j] - m)]))
    designed = time.perf_counter()

    tss = ((y - y.mean()) ** 2).sum()
    rng = random.Random(1)
    subsets = [tuple(j for j in range(g) if rng.random() < 0.5) for _ in range(args.fits)]
    subsets = [s for s in subsets if s]
    r2 = []
    fit_start = time.perf_counter()
    for subset in subsets:
        x = np.column_stack([np.ones(n)] + [columns[j] for j in subset])
        fit = sm.OLS(y, x).fit()
        r2.append(1 - (fit.resid ** 2).sum() / tss)
    per_fit = (time.perf_counter() - fit_start) / len(subsets)

    point = per_fit * 2 ** g
    print(f"customers {n}, ratings {len(ratings)}, drivers {g}")
    print(f"load CSV            {loaded - started:8.1f} s (measured)")
    print(f"build design        {designed - loaded:8.1f} s (measured)")
    print(f"one OLS fit         {per_fit:8.3f} s (measured, mean of {len(subsets)} subsets)")
    print(f"LMG, all 2^{g} subsets {point:8.1f} s (extrapolated)")
    total = (loaded - started) + (designed - loaded) + point * (args.replicates + 1)
    print(f"LMG + {args.replicates} bootstrap replicates {total:8.1f} s (extrapolated)")


if __name__ == "__main__":
    main()
