"""Independent reference for recovery_test: the later-answer recovery of
docs/cases.md, computed with numpy/scipy from the raw subjects and answers.

stdin: one JSON object per line: {"case": name, "window": seconds,
"subjects": [[customer, resolved(0/1), anchor_seconds], ...],
"answers": [[customer, occurred_seconds, score], ...]}
stdout: one JSON object per line: {"case", "n1", "n0", "m1", "m0", "diff",
"low", "high"} (low/high null without an interval).
"""
import json
import sys

import numpy as np
from scipy import stats


def estimate(case):
    window = case["window"]
    # Each customer once: resolved beats not contacted; the earliest anchor.
    group = {}
    for customer, resolved, anchor in case["subjects"]:
        key = (resolved, anchor)
        if customer not in group:
            group[customer] = key
        else:
            old = group[customer]
            if resolved > old[0] or (resolved == old[0] and anchor < old[1]):
                group[customer] = key
    later = {}
    for customer, occurred, score in case["answers"]:
        if customer not in group:
            continue
        anchor = group[customer][1]
        if not (anchor < occurred <= anchor + window):
            continue
        if customer not in later or occurred < later[customer][0]:
            later[customer] = (occurred, score)
    treated = np.array([s for c, (_, s) in later.items() if group[c][0] == 1],
                       dtype=float)
    control = np.array([s for c, (_, s) in later.items() if group[c][0] == 0],
                       dtype=float)
    out = {"case": case["case"], "n1": len(treated), "n0": len(control),
           "m1": float(treated.mean()) if len(treated) else 0.0,
           "m0": float(control.mean()) if len(control) else 0.0,
           "diff": 0.0, "low": None, "high": None}
    if len(treated) and len(control):
        out["diff"] = out["m1"] - out["m0"]
    if len(treated) >= 2 and len(control) >= 2:
        v1 = treated.var(ddof=1) / len(treated)
        v0 = control.var(ddof=1) / len(control)
        if v1 + v0 > 0:
            # The standard error from scipy's own Welch statistic, the
            # degrees of freedom from Welch–Satterthwaite.
            result = stats.ttest_ind(treated, control, equal_var=False)
            se = (out["diff"] / result.statistic if out["diff"] != 0
                  else np.sqrt(v1 + v0))
            df = (v1 + v0) ** 2 / (v1 ** 2 / (len(treated) - 1) +
                                   v0 ** 2 / (len(control) - 1))
            half = stats.t.ppf(0.975, df) * se
            out["low"] = out["diff"] - half
            out["high"] = out["diff"] + half
    return out


for line in sys.stdin:
    if line.strip():
        print(json.dumps(estimate(json.loads(line))))
