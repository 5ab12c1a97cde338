#!/usr/bin/env python3
"""Runs every benchmark workload on SQLite, then PostgreSQL, against baselines measured in the
same run, prints one table and writes docs/performance.md. Called by bench/run.sh (which
installs wrk, ensures PostgreSQL and builds release). Options: --backends sqlite,postgres
--secs N (wrk duration, default 8) --partners N (default 1,000,000) --rows GROUPS (default all:
main = rows 1-4, 6, 7; backfill = 5; series = 8; metrics = 9; events = 10; payouts = 11)."""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REL = os.path.join(os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target"), "release")
SERVER = os.path.join(REL, "openpartner")
BASELINE = os.path.join(REL, "bench-baseline")
TOOL = os.path.join(REL, "openpartner-bench")
OUT = os.path.join(ROOT, "bench", "out")
PG = "postgres://postgres@127.0.0.1:5432"
# BENCH_APP_PORT moves the three ports (server, server + 1 for the baseline, server + 10 for the
# simulator), so two runs on one machine (or icount.py beside a wrk run) do not meet.
APP_PORT = int(os.environ.get("BENCH_APP_PORT", "18080"))
BASE_PORT, SIM_PORT = APP_PORT + 1, APP_PORT + 10
# PostgreSQL databases are named <prefix>_main, ...: another prefix keeps two runs apart.
DB_PREFIX = os.environ.get("BENCH_DB_PREFIX", "opbench")
POOL = 16


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def sh(args, env=None, capture=True):
    r = subprocess.run(args, env=env, capture_output=capture, text=True)
    if r.returncode != 0:
        raise SystemExit(f"failed: {' '.join(args)}\n{r.stdout}\n{r.stderr}")
    return r.stdout


def psql(sql):
    sh(["psql", "-q", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-c", sql])


def fresh_db(backend, name):
    """A fresh database; returns (DATABASE_URL, data dir)."""
    data = os.path.join(OUT, backend, name)
    shutil.rmtree(data, ignore_errors=True)
    os.makedirs(data)
    if backend == "sqlite":
        return f"sqlite://{data}/openpartner.db", data
    db = f"{DB_PREFIX}_{name}"
    psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    psql(f"CREATE DATABASE {db}")
    return f"{PG}/{db}", data


def rss_kb(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def get(url, key=None, timeout=5):
    req = urllib.request.Request(url)
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.read()


def post(url, key, body=None, timeout=60):
    data = json.dumps(body or {}).encode()
    req = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read() or b"null")


def wait_ready(url, deadline_s=30):
    t0 = time.monotonic()
    while time.monotonic() - t0 < deadline_s:
        try:
            if get(url, timeout=1)[0] == 200:
                return time.monotonic() - t0
        except Exception:
            pass
        time.sleep(0.002)
    raise SystemExit(f"{url} not ready")


LIVE = []  # processes still running, stopped on the way out if a workload fails


def ensure_free(port):
    """Refuses to start when something else listens on `port`: wrk would measure it."""
    with socket.socket() as sock:
        if sock.connect_ex(("127.0.0.1", port)) == 0:
            raise SystemExit(f"port {port} is taken by another process; set BENCH_APP_PORT")


class Proc:
    def __init__(self, args, env, name, port=None):
        if port:
            ensure_free(port)
        self.log = open(os.path.join(OUT, f"{name}.log"), "w")
        self.started = time.monotonic()
        self.p = subprocess.Popen(args, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        LIVE.append(self)

    def stop(self):
        if self in LIVE:
            LIVE.remove(self)
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        self.log.close()


def server_env(url, data, extra=None):
    env = dict(os.environ)
    env.update({
        "OPENPARTNER_BIND": f"127.0.0.1:{APP_PORT}",
        "OPENPARTNER_DATA_DIR": data,
        "DATABASE_URL": url,
        "OPENPARTNER_DB_MAX_CONNECTIONS": str(POOL),
        "OPENPARTNER_LOG": "info",
        "OPENPARTNER_LOG_FORMAT": "json",
        "OPENPARTNER_RATE_LIMIT_PER_MINUTE": "1000000",
    })
    env.update(extra or {})
    return env


def wrk(url, secs, conns, script=None, script_args=(), headers=()):
    args = ["wrk", "-t2", f"-c{conns}", f"-d{secs}s", "--latency", "--timeout", "10s"]
    for h in headers:
        args += ["-H", h]
    if script:
        args += ["-s", os.path.join(ROOT, "bench", "lua", script)]
    args.append(url)
    if script_args:
        args += ["--", *script_args]
    out = sh(args)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)] if p99 else None
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "total": total, "p99_ms": p99_ms, "non2xx": int(bad.group(1)) if bad else 0, "socket_errors": errors.group(1) if errors else ""}


def tool(url, *args):
    return sh([TOOL, "--database-url", url, *args])


GROUPS = ["main", "backfill", "series", "metrics", "events", "payouts"]
METRICS_TOKEN = "bench-metrics-token-0123456789"


def admin_key(url, data):
    return sh([SERVER, "keys", "create", "--admin"], env=server_env(url, data)).strip().splitlines()[-1]


def serve(url, data, name, extra=None):
    server = Proc([SERVER, "serve"], server_env(url, data, extra), name, APP_PORT)
    wait_ready(f"http://127.0.0.1:{APP_PORT}/ready")
    return server


def run_backend(backend, args, rows):
    log(f"=== {backend} ===")
    want = set(args.rows.split(","))

    def row(n, workload, value, ratio, target, ok, note=""):
        rows.append({"n": n, "workload": workload, "backend": backend, "value": value, "ratio": ratio, "target": target, "met": ok, "note": note})

    if want & {"main", "metrics", "events"}:
        url, data = fresh_db(backend, "main")
        ids = os.path.join(OUT, backend, "ids.txt")
        keys = os.path.join(OUT, backend, "keys.txt")
        log(f"seeding {args.partners} partners and 10,000 links")
        tool(url, "seed", "--partners", str(args.partners), "--links", "10000", "--ids-out", ids, "--keys-out", keys)
        key = sh([SERVER, "keys", "create", "--scope", "partners:read", "--scope", "partners:write"], env=server_env(url, data)).strip().splitlines()[-1]
    if "main" in want:
        main_rows(backend, args, row, url, data, ids, keys, key)
    if want & {"metrics", "events"}:
        metrics_and_events(backend, args, row, want, url, data, ids, key)
    if "backfill" in want:
        backfill_row(backend, row)
    if "series" in want:
        series_row(backend, args, row)
    if "payouts" in want:
        payouts_row(backend, args, row)


def main_rows(backend, args, row, url, data, ids, keys, key):
    # 7: start-to-ready on a migrated database, idle RSS.
    server = Proc([SERVER, "serve"], server_env(url, data), f"{backend}-server", APP_PORT)
    ready_s = wait_ready(f"http://127.0.0.1:{APP_PORT}/ready")
    time.sleep(2)
    idle_rss = rss_kb(server.p.pid)
    baseline = Proc([BASELINE, f"127.0.0.1:{BASE_PORT}", url, str(POOL)], dict(os.environ), f"{backend}-baseline", BASE_PORT)
    wait_ready(f"http://127.0.0.1:{BASE_PORT}/static")

    log("static and raw-read baselines")
    static = wrk(f"http://127.0.0.1:{BASE_PORT}", args.secs, 64, "paths.lua", [os.path.join(OUT, "static.txt")])
    raw = wrk(f"http://127.0.0.1:{BASE_PORT}", args.secs, 64, "paths.lua", [ids])
    log("1: GET /partners/:id with a scoped key")
    w1 = wrk(f"http://127.0.0.1:{APP_PORT}", args.secs, 64, "paths.lua", [ids], [f"Authorization: Bearer {key}"])
    peak_rss_w1 = rss_kb(server.p.pid, "VmHWM")
    log("3: first and last page of GET /partners?limit=100")
    pages = json.loads(tool(url, "pages", "--base", f"http://127.0.0.1:{APP_PORT}", "--key", key))
    log("4: POST /partners, 32 connections")
    w4 = wrk(f"http://127.0.0.1:{APP_PORT}", args.secs, 32, "create.lua", [key, f"{backend}{int(time.time())}"])
    log("2: GET /r/:linkKey")
    w2 = wrk(f"http://127.0.0.1:{APP_PORT}", args.secs, 64, "paths.lua", [keys])
    server.stop()
    baseline.stop()
    clicks = int(tool(url, "clicks").strip())
    log("4: raw insert loop, same pool size")
    raw_insert = json.loads(tool(url, "insert-loop", "--secs", str(args.secs), "--concurrency", "32", "--pool", str(POOL)))
    log("6: heartbeat count")
    count = json.loads(tool(url, "count"))

    r1 = w1["rps"] / raw["rps"]
    row(1, "GET /partners/:id, scoped key, random ids", f"{w1['rps']:.0f} req/s, p99 {w1['p99_ms']:.2f} ms",
        f"{r1:.0%} of raw read ({raw['rps']:.0f}/s; raw = {raw['rps'] / static['rps']:.0%} of static)",
        ">= 85% of raw read, p99 <= 10 ms", r1 >= 0.85 and w1["p99_ms"] <= 10, f"non-2xx {w1['non2xx']}")
    r2 = w2["rps"] / static["rps"]
    row(2, "GET /r/:linkKey, 10k links, random keys", f"{w2['rps']:.0f} req/s, p99 {w2['p99_ms']:.2f} ms",
        f"{r2:.0%} of static ({static['rps']:.0f}/s)", ">= 50% of static; every answered click stored",
        r2 >= 0.5 and clicks >= w2["total"], f"{w2['total']} answered, {clicks} clicks stored")
    ratio3 = pages["last_ms"] / pages["first_ms"]
    row(3, f"GET /partners?limit=100 over {args.partners:,}", f"first {pages['first_ms']:.2f} ms, last {pages['last_ms']:.2f} ms",
        f"last = {ratio3:.2f}x first", "last <= 1.5x first", ratio3 <= 1.5, f"walk of {pages['walked_pages']} pages: median {pages['walk_median_ms']:.2f} ms")
    r4 = w4["rps"] / raw_insert["per_sec"]
    row(4, "POST /partners (sendInvite false), 32 conns", f"{w4['rps']:.0f} req/s", f"{r4:.0%} of raw inserts ({raw_insert['per_sec']:.0f}/s)",
        ">= 50% of raw insert loop", r4 >= 0.5, f"non-2xx {w4['non2xx']}")
    row(6, f"heartbeat count over {count['count']:,} partners", f"{count['median_ms']:.2f} ms median", "", "<= 20 ms median", count["median_ms"] <= 20)
    row(7, "footprint", f"idle {idle_rss / 1024:.1f} MB, peak under 1: {peak_rss_w1 / 1024:.1f} MB, ready in {ready_s * 1000:.0f} ms", "",
        "idle <= 30 MB, peak <= 100 MB, ready <= 300 ms", idle_rss <= 30 * 1024 and peak_rss_w1 <= 100 * 1024 and (backend != "sqlite" or ready_s <= 0.3),
        "start-to-ready target is for SQLite")


def backfill_row(backend, row):
    log("5: backfill of 100,000 partners to the simulator")
    bf_url, bf_data = fresh_db(backend, "backfill")
    tool(bf_url, "seed", "--partners", "100000")
    sim = Proc([SERVER, "network-sim", "--bind", f"127.0.0.1:{SIM_PORT}", "--admin-key", "bench-admin"], server_env(bf_url, bf_data), f"{backend}-sim", SIM_PORT)
    extra = {"NETWORK_URL": f"http://127.0.0.1:{SIM_PORT}", "NETWORK_ADMIN_API_KEY": "bench-admin", "SECRETS_ENCRYPTION_KEY": "11" * 32}
    admin = sh([SERVER, "keys", "create", "--admin"], env=server_env(bf_url, bf_data, extra)).strip().splitlines()[-1]
    bf_server = Proc([SERVER, "serve"], server_env(bf_url, bf_data, extra), f"{backend}-backfill-server", APP_PORT)
    wait_ready(f"http://127.0.0.1:{APP_PORT}/ready")
    time.sleep(0.5)
    # The one-click connect needs a contact (or OPENPARTNER_ADMIN_EMAIL) since the Network
    # refuses signups without one.
    post(f"http://127.0.0.1:{APP_PORT}/config/network/auto-enroll", admin, {"contactEmail": "bench@bench.example"})
    base = f"http://127.0.0.1:{APP_PORT}/config/network/backfill"
    started = post(base, admin)
    t0 = time.monotonic()
    while True:
        run = json.loads(get(base, admin)[1])
        if run["status"] == "done":
            break
        time.sleep(0.05)
    bf_secs = time.monotonic() - t0
    bf_rss = rss_kb(bf_server.p.pid, "VmHWM")
    second = post(base, admin)
    while json.loads(get(base, admin)[1])["status"] != "done":
        time.sleep(0.05)
    second_run = json.loads(get(base, admin)[1])
    bf_server.stop()
    sim.stop()

    rate = run["total"] / bf_secs
    row(5, "backfill 100k to the simulator", f"{rate:.0f} partners/s, peak RSS {bf_rss / 1024:.0f} MB", f"second run pushed {second_run['pushed']}",
        ">= 2,000/s, RSS <= 150 MB, 2nd run 0", rate >= 2000 and bf_rss <= 150 * 1024 and second_run["pushed"] == 0 and second["total"] == 0,
        f"pushed {run['pushed']}, queued {run['queued']}, failed {run['failed']} in {bf_secs:.1f} s")


def metrics_and_events(backend, args, row, want, url, data, ids, key):
    app = f"http://127.0.0.1:{APP_PORT}"
    admin = admin_key(url, data)
    if "events" in want:
        clicks_file = os.path.join(OUT, backend, "event-clicks.txt")
        log(f"10: seeding {args.event_clicks:,} clicks (the server's click writer) for POST /events")
        seeded = json.loads(tool(url, "seed-clicks", "--clicks", str(args.event_clicks), "--out", clicks_file))
        log("10: raw event + commission insert loop, same pool size")
        raw_ev = json.loads(tool(url, "event-loop", "--secs", str(args.secs), "--concurrency", "32", "--pool", str(POOL)))
    if "metrics" in want:
        # Off, on, off: each on a freshly started server over the same database; the two off
        # runs bracket the on run, so a drift of the machine shows as a gap between them.
        runs = {}
        for i, on in enumerate([False, True, False]):
            extra = {"OPENPARTNER_METRICS_TOKEN": METRICS_TOKEN} if on else {}
            server = serve(url, data, f"{backend}-server-metrics-{'on' if on else 'off'}-{i}", extra)
            log(f"9: GET /partners/:id, metrics {'on' if on else 'off'}")
            w = wrk(app, args.secs, 64, "paths.lua", [ids], [f"Authorization: Bearer {key}"])
            try:
                status, body = get(f"{app}/metrics", METRICS_TOKEN)
            except urllib.error.HTTPError as e:
                status, body = e.code, b""
            assert (status == 200) == on, f"/metrics answered {status} with metrics {'on' if on else 'off'}"
            if on:
                series_lines = sum(1 for line in body.decode().splitlines() if line and not line.startswith("#"))
            runs.setdefault(on, []).append(w)
            server.stop()
        off = sum(w["rps"] for w in runs[False]) / 2
        w_on = runs[True][0]
        ratio = w_on["rps"] / off
        row(9, "GET /partners/:id, metrics on vs off", f"on {w_on['rps']:.0f} req/s (p99 {w_on['p99_ms']:.2f} ms), off {off:.0f} req/s",
            f"on = {ratio:.0%} of off", "cost stated (issue 19)", None,
            f"off runs before/after: {runs[False][0]['rps']:.0f} / {runs[False][1]['rps']:.0f} req/s; {series_lines} series on /metrics after the on run; non-2xx on {w_on['non2xx']}")
    if "events" in want:
        server = serve(url, data, f"{backend}-server-events")
        tag = f"wev{backend}{int(time.time())}"
        log("10: POST /events, attributed, with commission, 32 connections")
        w10 = wrk(app, args.secs, 32, "events.lua", [admin, clicks_file, tag, "2"])
        server.stop()
        check = json.loads(tool(url, "events-check", "--prefix", tag))
        r10 = w10["rps"] / raw_ev["per_sec"]
        row(10, "POST /events, attributed, with commission, 32 conns", f"{w10['rps']:.0f} events/s, p99 {w10['p99_ms']:.2f} ms",
            f"{r10:.0%} of raw event+commission inserts ({raw_ev['per_sec']:.0f}/s)", "none set (report; #4's is >= 50%)", None,
            f"{w10['total']} answered (non-2xx {w10['non2xx']}), {check['events']} events stored, {check['commissions']} with a commission; "
            f"{seeded['clicks']:,} clicks seeded in {seeded['seconds']:.1f} s")


def series_row(backend, args, row):
    log(f"8: seeding {args.series_clicks:,} clicks over 90 days for one partner")
    url, data = fresh_db(backend, "series")
    seeded = json.loads(tool(url, "seed-series", "--clicks", str(args.series_clicks), "--days", "90"))
    admin = admin_key(url, data)
    server = serve(url, data, f"{backend}-server-series")
    log("8: GET /partners/:id/timeseries and /stats/timeseries, 90 days by day, sequential")
    m = json.loads(tool(url, "series", "--base", f"http://127.0.0.1:{APP_PORT}", "--key", admin, "--partner", seeded["partner"], "--days", "90"))
    server.stop()
    p, g = m["partner"], m["program"]
    right = p["clicks"] == seeded["clicks"] and g["clicks"] == seeded["program_clicks"] and p["conversions"] == seeded["events"] == g["conversions"]
    row(8, f"time series, 90 days by day, {seeded['clicks']:,} clicks", f"partner: median {p['median_ms']:.2f} ms, p99 {p['p99_ms']:.2f} ms; "
        f"program: median {g['median_ms']:.2f} ms, p99 {g['p99_ms']:.2f} ms", "",
        "<= 50 ms (p99), totals right", p["p99_ms"] <= 50 and g["p99_ms"] <= 50 and right,
        f"{p['reps']} sequential requests per route after 5 warm-up; partner {p['clicks']:,} clicks / {p['conversions']:,} conversions in {p['buckets']} buckets, "
        f"program {g['clicks']:,} clicks (1,000 other partners x 100); seeded in {seeded['seconds']:.0f} s (clicks through the server's writer in {seeded['clicks_secs']:.0f} s)")


def payouts_row(backend, args, row):
    n = 100_000
    log(f"11: seeding {n:,} approved commissions over {args.payout_partners:,} partners")
    url, data = fresh_db(backend, "payouts")
    seeded = json.loads(tool(url, "seed-payable", "--partners", str(args.payout_partners), "--commissions", str(n)))
    admin = admin_key(url, data)
    # The default 30 s request limit would answer 503 while the run goes on to completion in
    # its task: raise it so the answer marks the end of the run.
    server = serve(url, data, f"{backend}-server-payouts", {"OPENPARTNER_REQUEST_TIMEOUT_SECS": "900"})
    time.sleep(1)
    hwm_before, rss_before = rss_kb(server.p.pid, "VmHWM"), rss_kb(server.p.pid)
    log("11: POST /payouts/run")
    t0 = time.monotonic()
    answer = post(f"http://127.0.0.1:{APP_PORT}/payouts/run", admin, {}, timeout=900)
    secs = time.monotonic() - t0
    hwm_after, rss_after = rss_kb(server.p.pid, "VmHWM"), rss_kb(server.p.pid)
    server.stop()
    held = sum(len(p["commissionIds"]) for p in answer["payouts"])
    row(11, f"POST /payouts/run, {n:,} approved commissions", f"{secs:.1f} s, peak RSS {hwm_before / 1024:.0f} -> {hwm_after / 1024:.0f} MB",
        f"{len(answer['payouts']):,} payouts holding {held:,} commissions", "<= 10 s, memory bounded", secs <= 10 and held == n,
        f"{args.payout_partners:,} partners x {n // args.payout_partners} commissions, manual rail; RSS {rss_before / 1024:.0f} MB before, {rss_after / 1024:.0f} MB after; "
        f"{len(answer['skipped'])} skipped; seeded in {seeded['seconds']:.1f} s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--backends", default="sqlite,postgres")
    ap.add_argument("--secs", type=int, default=8)
    ap.add_argument("--partners", type=int, default=1_000_000)
    ap.add_argument("--rows", default=",".join(GROUPS), help="groups: " + ",".join(GROUPS))
    ap.add_argument("--series-clicks", type=int, default=1_000_000)
    ap.add_argument("--event-clicks", type=int, default=200_000)
    ap.add_argument("--payout-partners", type=int, default=10_000)
    ap.add_argument("--no-docs", action="store_true", help="print the table only; leave docs/performance.md alone")
    args = ap.parse_args()
    unknown = set(args.rows.split(",")) - set(GROUPS)
    if unknown:
        raise SystemExit(f"unknown --rows {sorted(unknown)}; known: {GROUPS}")
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "static.txt"), "w") as f:
        f.write("/static\n")
    rows = []
    t0 = time.monotonic()
    try:
        for backend in args.backends.split(","):
            run_backend(backend, args, rows)
    finally:
        for p in list(LIVE):
            p.stop()
    elapsed = time.monotonic() - t0
    order = args.backends.split(",")
    rows.sort(key=lambda r: (order.index(r["backend"]), r["n"]))
    header = "| # | workload | backend | measured | ratio | target | met |\n|---|---|---|---|---|---|---|\n"
    lines = [f"| {r['n']} | {r['workload']} | {r['backend']} | {r['value']} | {r['ratio']} | {r['target']} | {'—' if r['met'] is None else 'yes' if r['met'] else '**no**'} |" for r in rows]
    table = header + "\n".join(lines)
    notes = "\n".join(f"- #{r['n']} {r['backend']}: {r['note']}" for r in rows if r["note"])
    print(table)
    print(notes)
    if args.no_docs:
        return
    cpu = sh(["sh", "-c", "nproc; grep -m1 'model name' /proc/cpuinfo || true"]).split("\n")
    report = f"""# Performance

Measured by `bench/run.sh` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {cpu[0]} cores, {cpu[1].split(':')[-1].strip() if len(cpu) > 1 else ''};
benchmark part {elapsed / 60:.1f} min). wrk, 2 threads, {args.secs} s per run, 64 connections unless noted; the
baselines (`bench/baseline.rs`) run in the same session on the same machine: **static** is a fixed JSON
body of a partner's size, **raw read** the same primary-key read through a plain native sqlx pool of
the same size ({POOL}), serialized to the same JSON. Targets are ratios because this machine is shared.

{table}

{notes}
"""
    path = os.path.join(ROOT, "docs", "performance.md")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    previous = open(path).read() if os.path.exists(path) else ""
    analysis = previous.split("<!-- analysis -->", 1)[1] if "<!-- analysis -->" in previous else "\n## Analysis\n\n(none yet)\n"
    with open(path, "w") as f:
        f.write(report + "\n<!-- analysis -->" + analysis)
    log(f"wrote {path}")


if __name__ == "__main__":
    main()
