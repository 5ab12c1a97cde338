#!/usr/bin/env python3
"""Instructions per request: the figure machine noise cannot move. Runs the release server under
valgrind's callgrind (every thread of the server process is counted; the database server, on
PostgreSQL, is a separate process and is not), sends a fixed number of requests per route over
one keep-alive connection after a warm-up, and reads the counters callgrind dumps around each
window (`callgrind_control --zero` before, `--dump` after). Called by `bench/run.sh
--instructions`; CI does not run it. Options: --backends sqlite,postgres --requests N (default
400) --routes baselines,health,partner,redirect,events,create (default all) --server-env KEY=VALUE (repeatable).
Prints a table and writes bench/out/instructions.json.

The price of metrics (issue 19): the same route with the recorder installed and without, e.g.

    bench/run.sh --instructions --routes partner
    bench/run.sh --instructions --routes partner --server-env OPENPARTNER_METRICS_TOKEN=bench-metrics-token-0123456789
"""

import argparse
import glob
import http.client
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as bench  # noqa: E402  (the shared helpers of the wrk benchmark)

WARMUP = 50


def dump_total(pid, out_prefix, label):
    """Dumps the counters since the last zeroing; returns the instructions (Ir) they hold."""
    before = set(glob.glob(f"{out_prefix}.{pid}*"))
    subprocess.run(["callgrind_control", "--dump=" + label, str(pid)], check=True, capture_output=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        new = set(glob.glob(f"{out_prefix}.{pid}*")) - before
        for path in new:
            with open(path) as f:
                text = f.read()
            m = re.search(r"^(?:summary|totals):\s+(\d+)", text, re.M)
            if m:
                return int(m.group(1))
        time.sleep(0.05)
    raise SystemExit("callgrind wrote no dump")


def zero(pid):
    subprocess.run(["callgrind_control", "--zero", str(pid)], check=True, capture_output=True)


class Client:
    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def request(self, method, path, headers=None, body=None):
        data = json.dumps(body).encode() if body is not None else None
        h = dict(headers or {})
        if data is not None:
            h["Content-Type"] = "application/json"
        self.conn.request(method, path, body=data, headers=h)
        r = self.conn.getresponse()
        payload = r.read()
        return r.status, r.getheader("Location"), payload


def measure(pid, prefix, label, n, send):
    """Warm up, zero, send `n` requests, dump: instructions per request."""
    for i in range(WARMUP):
        send(-1 - i)
    zero(pid)
    for i in range(n):
        send(i)
    return dump_total(pid, prefix, label) / n


ROUTES = ["baselines", "health", "partner", "redirect", "events", "create"]


def baselines(backend, url, n, id_paths):
    """The wrk rows' two baselines measured the same way: `bench-baseline` under callgrind, its
    static JSON answer and its raw primary-key read (the denominators of rows 1 and 2)."""
    prefix = os.path.join(bench.OUT, backend, "callgrind-baseline.out")
    for f in glob.glob(prefix + "*"):
        os.remove(f)
    base = bench.Proc(["valgrind", "--tool=callgrind", f"--callgrind-out-file={prefix}.%p", "--dump-instr=no",
                       "--compress-strings=no", "--collect-systime=no", bench.BASELINE,
                       f"127.0.0.1:{bench.BASE_PORT}", url, str(bench.POOL)], dict(os.environ), f"{backend}-icount-baseline")
    try:
        bench.wait_ready(f"http://127.0.0.1:{bench.BASE_PORT}/static", deadline_s=300)
        c = Client(bench.BASE_PORT)

        def static(_):
            s, _, _ = c.request("GET", "/static")
            assert s == 200, s

        def raw(i):
            s, _, _ = c.request("GET", id_paths[i % len(id_paths)])
            assert s == 200, s

        return {"baseline: static JSON": measure(base.p.pid, prefix, "static", n, static),
                "baseline: raw read": measure(base.p.pid, prefix, "raw", n, raw)}
    finally:
        base.stop()


def run_backend(backend, n, extra_env=None, routes=ROUTES):
    bench.log(f"=== {backend}: instructions per request, {n} requests per route ===")
    url, data = bench.fresh_db(backend, "icount")
    ids = os.path.join(bench.OUT, backend, "icount-ids.txt")
    keys = os.path.join(bench.OUT, backend, "icount-keys.txt")
    env = bench.server_env(url, data, {"OPENPARTNER_LOG": "info", **(extra_env or {})})
    bench.sh([bench.SERVER, "migrate"], env=env)
    bench.tool(url, "seed", "--partners", "2000", "--links", "200", "--ids-out", ids, "--keys-out", keys)
    scoped = bench.sh([bench.SERVER, "keys", "create", "--scope", "partners:read", "--scope", "partners:write"], env=env).strip().splitlines()[-1]
    admin = bench.sh([bench.SERVER, "keys", "create", "--admin"], env=env).strip().splitlines()[-1]
    id_paths = [line.strip() for line in open(ids) if line.strip()]
    link_paths = [line.strip() for line in open(keys) if line.strip()]
    results = baselines(backend, url, n, id_paths) if "baselines" in routes else {}
    prefix = os.path.join(bench.OUT, backend, "callgrind.out")
    for f in glob.glob(prefix + "*"):
        os.remove(f)
    server = bench.Proc(["valgrind", "--tool=callgrind", f"--callgrind-out-file={prefix}.%p", "--dump-instr=no", "--compress-strings=no",
                         "--collect-systime=no", bench.SERVER], env, f"{backend}-icount-server")
    try:
        bench.wait_ready(f"http://127.0.0.1:{bench.APP_PORT}/ready", deadline_s=300)
        pid = server.p.pid
        c = Client(bench.APP_PORT)
        auth = {"Authorization": f"Bearer {scoped}"}

        def health(_):
            s, _, _ = c.request("GET", "/health")
            assert s == 200, s

        def partner(i):
            s, _, body = c.request("GET", id_paths[i % len(id_paths)], auth)
            assert s == 200, (s, body[:200])

        clicks = []

        def redirect(i):
            s, loc, _ = c.request("GET", link_paths[i % len(link_paths)])
            assert s == 302, s
            clicks.append(loc.split("op_click=")[1].split("&")[0].split("#")[0])

        def create(i):
            body = {"email": f"ic-{stamp}-{i}@example.com", "name": f"Bench {i}", "sendInvite": False}
            s, _, payload = c.request("POST", "/partners", auth, body)
            assert s == 201, (s, payload[:300])

        stamp = int(time.time())
        if "health" in routes:
            results["GET /health"] = measure(pid, prefix, "health", n, health)
        if "partner" in routes:
            results["GET /partners/:id (scoped key)"] = measure(pid, prefix, "partner", n, partner)
        if "redirect" in routes:
            results["GET /r/:key"] = measure(pid, prefix, "redirect", n, redirect)
        elif "events" in routes:
            for i in range(n):  # the clicks the events point at
                redirect(i)
        if "create" in routes:
            results["POST /partners (sendInvite false)"] = measure(pid, prefix, "create", n, create)
        if "events" not in routes:
            return results
        admin_auth = {"Authorization": f"Bearer {admin}"}

        def event(i):
            body = {"externalEventId": f"ic-{stamp}-{i}", "type": "sale", "value": "25.00",
                    "currency": "USD", "clickId": clicks[i % len(clicks)]}
            s, _, payload = c.request("POST", "/events", admin_auth, body)
            assert s == 201, (s, payload[:300])

        results["POST /events (attributed, with commission)"] = measure(pid, prefix, "events", n, event)
        return results
    finally:
        server.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--backends", default="sqlite,postgres")
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE",
                    help="extra server environment, e.g. OPENPARTNER_METRICS_TOKEN=x to price metrics")
    ap.add_argument("--routes", default=",".join(ROUTES), help="which of " + ",".join(ROUTES))
    args = ap.parse_args()
    routes = args.routes.split(",")
    if set(routes) - set(ROUTES):
        raise SystemExit(f"unknown --routes {sorted(set(routes) - set(ROUTES))}; known: {ROUTES}")
    extra = dict(kv.split("=", 1) for kv in args.server_env)
    os.makedirs(bench.OUT, exist_ok=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=bench.ROOT, capture_output=True, text=True).stdout.strip()
    table = {}
    for backend in args.backends.split(","):
        os.makedirs(os.path.join(bench.OUT, backend), exist_ok=True)
        table[backend] = run_backend(backend, args.requests, extra, routes)
    routes = list(next(iter(table.values())).keys())
    print(f"\nInstructions per request (callgrind, {args.requests} requests per route after {WARMUP} warm-up; commit {commit}; extra env {sorted(extra)})\n")
    print("| route | " + " | ".join(table) + " |")
    print("|---|" + "---|" * len(table))
    for r in routes:
        print(f"| `{r}` | " + " | ".join(f"{table[b][r]:,.0f}" for b in table) + " |")
    with open(os.path.join(bench.OUT, "instructions.json"), "w") as f:
        json.dump({"commit": commit, "requests": args.requests, "server_env": sorted(extra), "table": table}, f, indent=2)


if __name__ == "__main__":
    main()
