#!/usr/bin/python3
"""An independent computation of GetFunnel (docs/funnels.md) for the tests.

Reads cases (one JSON object per line: the journey's stages, the raw events
as fed to the ledger, the request) and writes for each the expected
polku.v1.Funnel in proto3 JSON, one per line. Written from the definitions,
by brute force over each customer's events, with statsmodels' Kaplan-Meier
(SurvfuncRight) and Wilson intervals, scipy's binomial quantiles and
chi-square test; it shares no code with the product.

Run with Debian's /usr/bin/python3 (python3-numpy, python3-scipy,
python3-statsmodels).
"""

import datetime
import json
import math
import sys
from fractions import Fraction

import numpy as np
from scipy import stats
from statsmodels.duration.survfunc import SurvfuncRight
from statsmodels.stats.proportion import proportion_confint

Z = 1.96
# statsmodels takes alpha; this one makes its normal quantile 1.96.
ALPHA_196 = 2 * stats.norm.sf(Z)


def clamp(x):
    return min(1.0, max(0.0, x))


def wilson(x, n):
    low, high = proportion_confint(x, n, alpha=ALPHA_196, method="wilson")
    # Exactly 0 (1) at the ends; statsmodels leaves a rounding residue.
    if x == 0:
        low = 0.0
    if x == n:
        high = 1.0
    return {"low": clamp(float(low)), "high": clamp(float(high))}


def timestamp(micros):
    moment = datetime.datetime(1970, 1, 1) + datetime.timedelta(
        microseconds=micros)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if micros % 1_000_000:
        text += ".%06d" % (micros % 1_000_000)
    return text + "Z"


def conversion(follow, window):
    """follow: (time in seconds, converted) per customer who reached the stage."""
    n = len(follow)
    converted = sum(1 for _, c in follow if c)
    out = {"converted": converted, "of": n}
    if n == 0:
        out.update(rate=0.0, ci95={"low": 0.0, "high": 1.0},
                   standard_error=0.0, estimated=False)
        return out
    in_progress = [t for t, c in follow if not c and t < window]
    if not in_progress:
        p = converted / n
        out.update(rate=p, ci95=wilson(converted, n),
                   standard_error=math.sqrt(p * (1 - p) / n), estimated=False)
        return out
    if converted == 0:
        s, se = 1.0, 0.0
    else:
        fit = SurvfuncRight(np.array([t for t, _ in follow], dtype=float),
                            np.array([1 if c else 0 for _, c in follow]))
        at = np.searchsorted(fit.surv_times, window, side="right") - 1
        s = float(fit.surv_prob[at]) if at >= 0 else 1.0
        se = float(fit.surv_prob_se[at]) if at >= 0 else 0.0
        if s <= 0:
            se = 0.0
    out.update(rate=1 - s, standard_error=se, estimated=True)
    if s <= 0 or s >= 1:
        out["ci95"] = wilson(converted, n)
    else:
        spread = Z * (se / s) / abs(math.log(s))
        out["ci95"] = {"low": clamp(1 - s ** math.exp(-spread)),
                       "high": clamp(1 - s ** math.exp(spread))}
    return out


def chain(steps):
    rate = 1.0
    for step in steps:
        rate *= step["rate"]
    if any(step["rate"] <= 0 for step in steps):
        return 0.0, 0.0, {"low": 0.0,
                          "high": min([1.0] + [s["ci95"]["high"] for s in steps])}
    log_var = sum((s["standard_error"] / s["rate"]) ** 2 for s in steps)
    return (rate, rate * math.sqrt(log_var),
            {"low": clamp(rate * math.exp(-Z * math.sqrt(log_var))),
             "high": clamp(rate * math.exp(Z * math.sqrt(log_var)))})


def quantile(times, q):
    n = len(times)
    ordered = sorted(times)
    rank = max(1, math.ceil(n * q))
    low = int(stats.binom.ppf(0.025, n, float(q)))
    high = int(stats.binom.ppf(0.975, n, float(q))) + 1
    exact = 1 <= low and high <= n
    low, high = max(low, 1), min(high, n)
    return ordered[rank - 1], {"low": ordered[low - 1],
                               "high": ordered[high - 1]}, exact


def chi_square(table):
    rows = [r for r in table if sum(r) > 0]
    columns = [c for c in range(len(table[0]) if table else 0)
               if sum(r[c] for r in rows) > 0]
    total = sum(sum(r) for r in table)
    out = {"customers": total, "chi_square": 0.0, "degrees_of_freedom": 0,
           "p_value": 1.0, "differs": False}
    if len(rows) < 2 or len(columns) < 2:
        return out
    matrix = np.array([[r[c] for c in columns] for r in rows])
    chi2, p, dof, _ = stats.chi2_contingency(matrix, correction=False)
    out.update(chi_square=float(chi2), degrees_of_freedom=int(dof),
               p_value=float(p), differs=bool(p < 0.05))
    return out


def trace(events, steps, any_order, window):
    """(times, indices) of the steps a customer reached."""
    times, indices = [], []
    if not any_order:
        for j, stage in enumerate(steps):
            found = [i for i, e in enumerate(events) if e["stage"] == stage
                     and (j == 0 or times[-1] <= e["at"] <= times[-1] + window)]
            if not found:
                break
            times.append(events[found[0]]["at"])
            indices.append(found[0])
        return times, indices
    first = {}
    for i, e in enumerate(events):
        first.setdefault(e["stage"], i)
    for j, stage in enumerate(steps):
        if stage not in first:
            break
        if j == 0:
            times.append(events[first[stage]]["at"])
            indices.append(first[stage])
            continue
        # Every earlier stage and this one reached: at the latest first visit.
        done = max(events[first[s]]["at"] for s in steps[:j + 1])
        if done - times[-1] > window:
            break
        times.append(done)
        indices.append(max(first[s] for s in steps[:j + 1]))
    return times, indices


def funnel(case, start, end, by_group):
    stages = case["journey"]["stages"]
    steps = [s["key"] for s in stages if not s.get("optional")]
    optional = [s["key"] for s in stages if s.get("optional")]
    names = {s["key"]: s.get("name", "") for s in stages}
    window = case["window"]
    any_order = case["order"] == "ANY_ORDER"
    k = len(steps)
    by_customer = {}
    for e in case["events"]:
        if not e["customer"] or not start <= e["at"] < end:
            continue
        if case.get("channel") and e["channel"] != case["channel"]:
            continue
        by_customer.setdefault(e["customer"], []).append(e)

    def group_of(e):
        kind = case["breakdown"]
        if kind == "ENTRY_CHANNEL":
            return e["channel"]
        if kind == "JOURNEY_VERSION":
            return str(e["version"])
        if kind == "ATTRIBUTE":
            return e["attrs"].get(case["attribute"], "")
        return ""

    records = []  # per customer in the funnel
    for customer, events in by_customer.items():
        events.sort(key=lambda e: (e["at"], e["seq"]))
        times, indices = trace(events, steps, any_order, window)
        if not times:
            continue
        records.append((events, times, indices, group_of(events[indices[0]])))

    def stage_list(chosen):
        out = []
        steps_conv = []
        for j in range(k):
            reached = [r for r in chosen if len(r[1]) > j]
            stage = {"stage": steps[j], "name": names[steps[j]],
                     "reached": len(reached)}
            if reached:
                responded = sum(1 for r in reached if any(
                    e["stage"] == steps[j] and e["rated"] for e in r[0]))
                stage.update(responded=responded,
                             response_rate=responded / len(reached),
                             response_rate_ci95=wilson(responded, len(reached)))
            if j + 1 < k:
                follow, complete, dropped, in_progress = [], [], 0, 0
                lasts, drops = {}, {}
                for events, times, indices, _ in reached:
                    passed = case["as_of"] - times[j] >= window
                    if len(times) > j + 1:
                        took = (times[j + 1] - times[j]) / 1e6
                        follow.append((took, True))
                        if passed:
                            complete.append(took)
                    elif not passed:
                        in_progress += 1
                        follow.append((max(0, case["as_of"] - times[j]) / 1e6,
                                       False))
                    else:
                        dropped += 1
                        follow.append((window / 1e6, False))
                        window_end = times[j] + window
                        at = indices[j]
                        last = max(i for i, e in enumerate(events)
                                   if i >= at and e["at"] <= window_end)
                        tp = events[last]["touchpoint"]
                        lasts[tp] = lasts.get(tp, 0) + 1
                        if last == at:
                            what = ("NOTHING", "")
                        elif events[at + 1]["stage"] != steps[j]:
                            what = ("OTHER_STAGE", events[at + 1]["stage"])
                        elif events[at + 1]["channel"] != events[at]["channel"]:
                            what = ("OTHER_CHANNEL", events[at + 1]["channel"])
                        else:
                            what = ("SAME_CHANNEL", "")
                        drops[what] = drops.get(what, 0) + 1
                steps_conv.append(conversion(follow, window / 1e6))
                stage.update(dropped=dropped, in_progress=in_progress)
                if complete:
                    median, median_ci, median_exact = quantile(
                        complete, Fraction(1, 2))
                    p90, p90_ci, p90_exact = quantile(complete, Fraction(9, 10))
                    stage["time_to_next"] = {
                        "customers": len(complete), "median_seconds": median,
                        "median_ci95_seconds": median_ci,
                        "median_exact": median_exact, "p90_seconds": p90,
                        "p90_ci95_seconds": p90_ci, "p90_exact": p90_exact}
                order = ["NOTHING", "OTHER_STAGE", "OTHER_CHANNEL",
                         "SAME_CHANNEL"]
                stage["last_touchpoints"] = [
                    {"touchpoint": tp, "customers": n} for tp, n in
                    sorted(lasts.items(), key=lambda x: (-x[1], x[0]))]
                stage["drop_offs"] = [
                    dict({"kind": kind, "customers": n},
                         **({"key": key} if key else {}))
                    for (kind, key), n in sorted(
                        drops.items(),
                        key=lambda x: (-x[1], order.index(x[0][0]) + 1,
                                       x[0][1]))]
            out.append(stage)
        first_n = out[0]["reached"]
        for j, stage in enumerate(out):
            if j == 0:
                stage["from_first"] = {
                    "converted": first_n, "of": first_n,
                    "rate": 1.0 if first_n else 0.0,
                    "ci95": {"low": 1.0 if first_n else 0.0, "high": 1.0}}
                continue
            stage["from_previous"] = steps_conv[j - 1]
            before = steps_conv[:j]
            first = {"converted": stage["reached"], "of": first_n}
            if not any(s["estimated"] for s in before):
                p = stage["reached"] / first_n if first_n else 0.0
                first.update(
                    rate=p,
                    standard_error=math.sqrt(p * (1 - p) / first_n)
                    if first_n else 0.0,
                    ci95=wilson(stage["reached"], first_n) if first_n
                    else {"low": 0.0, "high": 1.0})
            else:
                rate, se, ci = chain(before)
                first.update(rate=rate, standard_error=se, ci95=ci,
                             estimated=True)
            stage["from_first"] = first
        return out, steps_conv

    answer = {"journey": case["journey"]["key"],
              "journey_version": case["journey"]["version"],
              "order": "ANY_ORDER" if any_order else "JOURNEY_ORDER",
              "conversion_window_seconds": window // 1_000_000,
              "range": {"start": timestamp(start), "end": timestamp(end)},
              "as_of": timestamp(end),
              "customers": len(records),
              "as_of_sequence": case["as_of_sequence"]}
    if case["breakdown"] != "NONE":
        answer["breakdown"] = case["breakdown"]
    stage_out, steps_conv = stage_list(records)
    answer["stages"] = stage_out
    answer["in_progress"] = sum(s.get("in_progress", 0) for s in stage_out)
    answer["optional_stages"] = []
    for key in optional:
        taken = sum(1 for r in records if any(e["stage"] == key for e in r[0]))
        entry = {"stage": key, "name": names[key], "customers": taken}
        if records:
            entry.update(take_up=taken / len(records),
                         take_up_ci95=wilson(taken, len(records)))
        answer["optional_stages"].append(entry)
    drops = [(1 - c["rate"], j, c) for j, c in enumerate(steps_conv)
             if c["of"] > 0]
    if len(drops) >= 2:
        drops.sort(key=lambda d: (-d[0], d[1]))
        (d1, j1, c1), (d2, j2, c2) = drops[0], drops[1]
        se = math.sqrt(c1["standard_error"] ** 2 + c2["standard_error"] ** 2)
        p = float(stats.norm.sf((d1 - d2) / se)) if se > 0 else (
            0.0 if d1 > d2 else 1.0)
        answer["bottleneck"] = {
            "from_stage": steps[j1], "to_stage": steps[j1 + 1], "drop": d1,
            "drop_ci95": {"low": 1 - c1["ci95"]["high"],
                          "high": 1 - c1["ci95"]["low"]},
            "runner_up_to_stage": steps[j2 + 1], "runner_up_drop": d2,
            "p_value": p, "significant": p < 0.05}
    if by_group:
        groups = sorted({r[3] for r in records})
        answer["groups"] = []
        table = []
        for g in groups:
            chosen = [r for r in records if r[3] == g]
            answer["groups"].append({"group": g, "customers": len(chosen),
                                     "stages": stage_list(chosen)[0]})
        for g in groups:
            row = [0] * k
            for events, times, _, group in records:
                if group != g:
                    continue
                level = len(times)
                if level == k or case["as_of"] - times[-1] >= window:
                    row[level - 1] += 1
            table.append(row)
        answer["breakdown_test"] = chi_square(table)
    return answer


def paths(case):
    """GetPaths by brute force: every customer's events in time order."""
    start, end = case["range"]
    within = case["within"]
    by_customer = {}
    for e in case["events"]:
        if not e["customer"] or not start <= e["at"] < end:
            continue
        if case.get("channel") and e["channel"] != case["channel"]:
            continue
        by_customer.setdefault(e["customer"], []).append(e)
    n = len(by_customer)
    channel_paths, stage_paths = {}, {}
    having = {}      # channel -> customers with a touch there
    pairs = {}       # (from, to) -> customers
    switchers = 0
    means = {m: {True: [], False: []} for m in ("csat", "ces", "nps")}
    last_nps = {True: [], False: []}  # each customer's last NPS answer
    for events in by_customer.values():
        events.sort(key=lambda e: (e["at"], e["seq"]))
        for field, table in (("channel", channel_paths), ("stage", stage_paths)):
            steps = []
            for e in events:
                if not steps or steps[-1] != e[field]:
                    steps.append(e[field])
            table[tuple(steps)] = table.get(tuple(steps), 0) + 1
        for channel in {e["channel"] for e in events}:
            having[channel] = having.get(channel, 0) + 1
        seen = {(a["channel"], b["channel"]) for a, b in zip(events, events[1:])
                if b["at"] - a["at"] <= within}
        for pair in seen:
            pairs[pair] = pairs.get(pair, 0) + 1
        switched = any(a != b for a, b in seen)
        switchers += switched
        for m in means:
            answers = [e[m] for e in events if e.get(m) is not None]
            if answers:
                means[m][switched].append(sum(answers) / len(answers))
        nps_answers = [e["nps"] for e in events if e.get("nps") is not None]
        if nps_answers:
            last_nps[switched].append(nps_answers[-1])

    def top(table):
        ordered = sorted(table.items(), key=lambda x: (-x[1], list(x[0])))
        return [{"steps": list(steps), "customers": k, "share": k / n,
                 "share_ci95": wilson(k, n)}
                for steps, k in ordered[:case["top"]]]

    channels = sorted(having)
    answer = {"journey": case["journey"]["key"],
              "range": {"start": timestamp(start), "end": timestamp(end)},
              "switch_within_seconds": within // 1_000_000,
              "customers": n, "switchers": switchers,
              "as_of_sequence": case["as_of_sequence"],
              "channel_paths": top(channel_paths) if n else [],
              "stage_paths": top(stage_paths) if n else [],
              "channels": channels, "switching": [], "satisfaction": []}
    for a in channels:
        for b in channels:
            if (a, b) in pairs:
                k = pairs[(a, b)]
                answer["switching"].append({
                    "from": a, "to": b, "customers": k, "of": having[a],
                    "share": k / having[a], "share_ci95": wilson(k, having[a])})
    for m in ("csat", "ces", "nps"):
        yes, no = means[m][True], means[m][False]
        if not yes and not no:
            continue
        entry = {"metric": m, "switchers": len(yes), "others": len(no),
                 "switchers_mean": float(np.mean(yes)) if yes else 0.0,
                 "others_mean": float(np.mean(no)) if no else 0.0}
        entry["difference"] = entry["switchers_mean"] - entry["others_mean"]
        p = 1.0
        valid = len(yes) >= 2 and len(no) >= 2 and (
            np.var(yes, ddof=1) > 0 or np.var(no, ddof=1) > 0)
        if valid:
            p = float(stats.ttest_ind(yes, no, equal_var=False).pvalue)
        entry.update(p_value=p, differs=bool(valid and p < 0.05))
        answer["satisfaction"].append(entry)
    if last_nps[True] or last_nps[False]:
        # NPS per group; the difference's z-test from the multinomial
        # variance of promoter and detractor shares.
        def nps(answers):
            n = len(answers)
            promoters = sum(a >= 9 for a in answers)
            detractors = sum(a <= 6 for a in answers)
            up, down = promoters / n, detractors / n
            return 100 * (promoters - detractors) / n, (up + down - (up - down) ** 2) / n
        yes, no = last_nps[True], last_nps[False]
        s_yes, v_yes = nps(yes) if yes else (0.0, 0.0)
        s_no, v_no = nps(no) if no else (0.0, 0.0)
        entry = {"metric": "nps_score", "switchers": len(yes), "others": len(no),
                 "switchers_mean": s_yes, "others_mean": s_no,
                 "difference": s_yes - s_no}
        valid = len(yes) >= 2 and len(no) >= 2 and v_yes + v_no > 0
        p = 1.0
        if valid:
            z = (s_yes - s_no) / 100 / np.sqrt(v_yes + v_no)
            p = float(2 * stats.norm.sf(abs(z)))
        entry.update(p_value=p, differs=bool(valid and p < 0.05))
        answer["satisfaction"].append(entry)
    return answer


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        case = json.loads(line)
        if case.get("kind") == "paths":
            print(json.dumps({"case": case["case"], "funnel": paths(case)}))
            continue
        start, end = case["range"]
        case["as_of"] = end
        answer = funnel(case, start, end, case["breakdown"] != "NONE")
        if case.get("compare"):
            c_start, c_end = case["compare"]
            other = dict(case, as_of=c_end, breakdown="NONE",
                         as_of_sequence=case["as_of_sequence"])
            compared = funnel(other, c_start, c_end, False)
            if case["breakdown"] != "NONE":
                compared["breakdown"] = case["breakdown"]
            table = []
            for f in (answer, compared):
                row = [s["dropped"] if j + 1 < len(f["stages"]) else s["reached"]
                       for j, s in enumerate(f["stages"])]
                table.append(row)
            answer["period_test"] = chi_square(table)
            answer["compared"] = compared
        print(json.dumps({"case": case["case"], "funnel": answer}))


if __name__ == "__main__":
    main()
