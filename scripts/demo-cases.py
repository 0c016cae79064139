#!/usr/bin/python3
"""The demo's follow-up rules (issue 21), created through the gateway's HTTP API.

scripts/up.sh runs this after the example journeys are imported and before the
simulated feedback is sent, so the simulated detractors open cases:

  demo-cases.py http://127.0.0.1:8080 .polku/credentials.json .polku/cases.key JOURNEY…

and once the feedback is sent, works some of the opened cases, so that the
follow-up queue shows every state and the loop measures have something to
measure:

  demo-cases.py --work http://127.0.0.1:8080 .polku/cases.key

and prints the dashboard's key (insights:read + cases:read, issued once):

  demo-cases.py --dashboard-key http://127.0.0.1:8080 .polku/credentials.json .polku/dashboard.key

With the demo admin key it issues a cases:read + cases:write key once (kept in
the key file, 0600, and reused on later runs), then gives every journey that
has no rule yet one: detractors (NPS ≤ 6) and very dissatisfied customers
(CSAT ≤ 2) get a call back within 8 business hours and a resolution within 40,
Mon–Fri 8–16 Europe/Helsinki without Finnish public holidays. Exits non-zero
with the gateway's answer when a call fails.
"""
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

TIMEOUT_SECONDS = 10
RATE_LIMIT_ATTEMPTS = 20

# Finnish public holidays on weekdays, 2026–2027 (local dates).
HOLIDAYS = [
    ("2026-01-01", "New Year's Day"), ("2026-01-06", "Epiphany"),
    ("2026-04-03", "Good Friday"), ("2026-04-06", "Easter Monday"),
    ("2026-05-01", "May Day"), ("2026-05-14", "Ascension Day"),
    ("2026-06-19", "Midsummer Eve"), ("2026-12-24", "Christmas Eve"),
    ("2026-12-25", "Christmas Day"), ("2027-01-01", "New Year's Day"),
    ("2027-01-06", "Epiphany"), ("2027-03-26", "Good Friday"),
    ("2027-03-29", "Easter Monday"), ("2027-05-06", "Ascension Day"),
    ("2027-06-25", "Midsummer Eve"), ("2027-12-06", "Independence Day"),
    ("2027-12-24", "Christmas Eve"),
]


def call(base, method, path, key, body=None):
    data = None if body is None else json.dumps(body).encode()
    # 429 is the gateway's per-key rate limit, answered before the call
    # reaches polku-cases: waiting as Retry-After says and sending it again is
    # safe. A bounded number of times.
    for attempt in range(RATE_LIMIT_ATTEMPTS):
        request = urllib.request.Request(base + path, data=data, method=method)
        request.add_header("Authorization", "Bearer " + key)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            text = error.read().decode()
            if error.code == 429 and attempt + 1 < RATE_LIMIT_ATTEMPTS:
                try:
                    wait = float(error.headers.get("Retry-After", "1"))
                except ValueError:
                    wait = 1.0
                time.sleep(min(max(wait, 0.05), 5.0))
                continue
            sys.exit(f"demo-cases: {method} {path}: HTTP {error.code}: {text}")


def issued_key(base, credentials, key_file, name, scopes):
    """A key of the demo tenant, issued once and kept in key_file (0600)."""
    if os.path.exists(key_file):
        with open(key_file) as f:
            return f.read().strip()
    issued = call(base, "POST", f"/v1/tenants/{credentials['tenant']}/apiKeys",
                  credentials["admin_key"], {"displayName": name, "scopes": scopes})
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(issued["key"] + "\n")
    return issued["key"]


def cases_key(base, credentials, key_file):
    return issued_key(base, credentials, key_file, "follow-up (up.sh)",
                      ["cases:read", "cases:write"])


def rule(journey):
    weekly = [{"weekday": day, "openMinute": 8 * 60, "closeMinute": 16 * 60} for day in range(1, 6)]
    return {
        "journey": journey,
        "name": "Detractors get a call back",
        "conditions": {"maxNps": 6, "maxCsat": 2},
        "priority": "HIGH",
        "fallbackQueue": "customer-care",
        "sla": {
            "firstContactSeconds": str(8 * 3600),
            "resolutionSeconds": str(40 * 3600),
            "reminderShare": 0.75,
            "businessHours": {
                "timeZone": "Europe/Helsinki",
                "weekly": weekly,
                "holidays": [{"date": d, "name": n} for d, n in HOLIDAYS],
            },
        },
    }


def list_cases(base, key):
    cases, token = [], ""
    for _ in range(1000):
        page = call(base, "GET", "/v1/cases?pageSize=500&pageToken=" + urllib.parse.quote(token), key)
        cases += page.get("cases", [])
        token = page.get("nextPageToken", "")
        if not token:
            return cases
    sys.exit("demo-cases: more than 1000 pages of cases")


def work(base, key_file):
    """Every 5th case (by id) assigned, half of those contacted, half of those resolved."""
    with open(key_file) as f:
        key = f.read().strip()
    # polku-cases opens cases as it reads the feed: wait (bounded) until the
    # count stops growing.
    deadline = time.monotonic() + 60
    previous = -1
    while True:
        cases = list_cases(base, key)
        if cases and len(cases) == previous:
            break
        if time.monotonic() > deadline:
            break
        previous = len(cases)
        time.sleep(2)
    fresh = sorted((c for c in cases if c["state"] == "NEW" and not c.get("noContact")),
                   key=lambda c: c["caseId"])
    worked = {"ASSIGNED": 0, "CONTACTED": 0, "RESOLVED": 0}
    for i, case in enumerate(fresh[::5]):
        path = "/v1/cases/" + case["caseId"]
        call(base, "PATCH", path + "?updateMask=assignee", key,
             {"assignee": f"agent-{i % 3 + 1}"})
        state = "ASSIGNED"
        if i % 2 == 0:
            call(base, "PATCH", path + "?updateMask=state", key, {"state": "CONTACTED"})
            call(base, "POST", path + "/comments", key,
                 {"text": "Called the customer back; they explained what went wrong."})
            state = "CONTACTED"
            if i % 4 == 0:
                call(base, "PATCH", path + "?updateMask=state", key, {"state": "RESOLVED"})
                state = "RESOLVED"
        worked[state] += 1
    print(f"demo-cases: {len(cases)} cases; worked: " +
          ", ".join(f"{n} {state.lower()}" for state, n in worked.items()))


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--dashboard-key":
        # The dashboard's key: reads insights and cases, so that every view,
        # the Follow-up queue included, works with the link up.sh prints.
        with open(sys.argv[3]) as f:
            credentials = json.load(f)
        print(issued_key(sys.argv[2], credentials, sys.argv[4], "dashboard (up.sh)",
                         ["insights:read", "cases:read"]))
        return
    if len(sys.argv) == 4 and sys.argv[1] == "--work":
        work(sys.argv[2], sys.argv[3])
        return
    if len(sys.argv) < 4:
        sys.exit("usage: demo-cases.py GATEWAY_HTTP_URL CREDENTIALS KEY_FILE JOURNEY…")
    base, credentials_file, key_file, journeys = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    with open(credentials_file) as f:
        credentials = json.load(f)
    key = cases_key(base, credentials, key_file)
    for journey in journeys:
        existing = call(base, "GET", "/v1/caseRules?journey=" + urllib.parse.quote(journey), key)
        if existing.get("rules"):
            print(f"demo-cases: {journey} already has {len(existing['rules'])} rule(s)")
            continue
        created = call(base, "POST", "/v1/caseRules", key, rule(journey))
        print(f"demo-cases: rule {created['ruleId']} for {journey}")


if __name__ == "__main__":
    main()
