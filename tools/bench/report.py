#!/usr/bin/env python3
"""Turns the measurements of tools/bench.sh into OUT/results.md and the data
files the gnuplot scripts read (written next to the measurements).

Usage:
  report.py report WORKDIR OUT   results.md in OUT; *.dat in WORKDIR
  report.py profiles WORKDIR     the profile loads of the goals missed so
                                 far (one a line), for bench.sh to record
  report.py syscalls DIR         the system-call section from DIR/syscalls.tsv
  report.py callgrind DIR        the callgrind section from DIR/callgrind.tsv

WORKDIR holds, tab separated (written by bench.sh and its sections):
  meta.tsv       name, value: machine, versions, parameters
  points.tsv     id, group, system, protocol, seconds: every point, in the
                 order of a round
  runs.tsv       round, id, req/s, p50 ms, p99 ms, requests, note, other
                 work on the machine (% of a CPU), steal (% of a CPU), retries
  rounds.tsv     round, load average at its start, seconds into the rounds
  memory.tsv     name, value
  syscalls.tsv   name, requests, req/s, "vol nonvol" before, after,
                 "event count" pairs, seconds (syscalls.sh)
  callgrind.tsv  kind, requests, Ir; callgrind-KIND-{inclusive,self}.txt
  profile-NAME.{self,children,dso,sys,load}   perf output per profile
A value that could not be measured is "n/a".
"""
import os
import statistics
import sys

from report_data import (
    PAIRS,
    SYSCALLS_BEFORE,
    SHORT,
    PROFILE_TEXT,
    read_tsv,
    read_kv,
    num,
    fmt_rps,
    fmt_x,
    fmt_ms,
    Runs,
    limit_of,
    keys_pair,
    count_fmt,
    memory_figures,
)


NOT_CALLS = ("context-switches", "cpu-migrations", "total")


def split_syscalls(pairs):
    """[(event, count)] -> (context switches, every system call, [(call,
    count)] most frequent first with "other" for what no event named)."""
    d = dict(pairs)
    sc = [(k, c) for k, c in pairs if k not in NOT_CALLS]
    named = sum(c for _, c in sc)
    total = d.get("total", named)
    if total > named:
        sc.append(("other", total - named))
    sc.sort(key=lambda kc: -kc[1])
    return d.get("context-switches", 0), total, sc


def syscall_rows(d):
    """name -> {requests, rps, total, per, cs, vol, nonvol, top: [(sc, n)]}"""
    out = {}
    for r in read_tsv(os.path.join(d, "syscalls.tsv")):
        if len(r) < 6:
            continue
        name, n = r[0], int(r[1])
        v0, n0 = (int(x) for x in r[3].split())
        v1, n1 = (int(x) for x in r[4].split())
        words = r[5].split()
        pairs = [(words[i], int(words[i + 1]))
                 for i in range(0, len(words) - 1, 2)]
        cs, total, sc = split_syscalls(pairs)
        out[name] = {"requests": n, "rps": num(r[2]), "total": total,
                     "secs": r[6] if len(r) > 6 else "?",
                     "per": total / n, "cs": cs / n, "vol": (v1 - v0) / n,
                     "nonvol": (n1 - n0) / n, "top": sc}
    return out


# --- goals -------------------------------------------------------------------

# The goals of the report: (text, proxy row, peer row, target ratio,
# profile load); ratios.png marks the same targets.
RATIO_GOALS = [
    ("HTTP cache hit vs the limit server", "proxy-http-hit", "limit-http",
     0.95, "http-hit"),
    ("HTTP cache hit vs nginx (static files)", "proxy-http-hit", "nginx",
     1.2, "http-hit"),
    ("HTTP cache hit vs webdis", "proxy-http-hit", "webdis", 2.5,
     "http-hit"),
    ("HTTP cache hit vs Varnish hits", "proxy-http-hit", "varnish", 2.5,
     "http-hit"),
    ("HTTP GET miss (cache off) vs webdis", "proxy-http-miss", "webdis", 1.5,
     "http-miss"),
    ("RESP GET hit -P 1 vs the limit server", "proxy-get-p1", "limit-get-p1",
     0.95, "get-p1"),
    ("RESP GET hit -P 1 vs redis-server", "proxy-get-p1", "redis-get-p1",
     1.0, "get-p1"),
    ("RESP GET hit -P 16 vs twemproxy", "proxy-get-p16", "twemproxy-get-p16",
     3.0, "get-p16"),
    ("forwarded SET -P 1 vs twemproxy", "proxy-set-p1", "twemproxy-set-p1",
     1.0, "set-p1"),
    ("forwarded SET -P 16 vs twemproxy", "proxy-set-p16",
     "twemproxy-set-p16", 2.0, "set-p16"),
    ("RESP GET of absent keys (fills) -P 1 vs twemproxy", "proxy-miss-p1",
     "twemproxy-miss-p1", 1.0, "miss-p1"),
    ("RESP GET of absent keys (fills) -P 16 vs twemproxy", "proxy-miss-p16",
     "twemproxy-miss-p16", 1.0, "miss-p16"),
    ("far Redis: forwarded SET -P 1 vs twemproxy", "proxy-far-set-p1",
     "twemproxy-far-set-p1", 1.0, "far-set-p1"),
    ("far Redis: forwarded SET -P 16 vs twemproxy", "proxy-far-set-p16",
     "twemproxy-far-set-p16", 1.0, "far-set-p16"),
    ("far Redis: GET of absent keys -P 1 vs twemproxy", "proxy-far-miss-p1",
     "twemproxy-far-miss-p1", 1.0, "far-miss-p1"),
    ("far Redis: GET of absent keys -P 16 vs twemproxy",
     "proxy-far-miss-p16", "twemproxy-far-miss-p16", 1.0, "far-miss-p16"),
    ("RESP GET hit over TLS vs redis-server's tls-port", "proxy-tls-get-p1",
     "redis-tls-get-p1", 1.0, "tls-get"),
    ("HTTPS cache hit vs nginx (static files, HTTPS)", "proxy-https-hit",
     "nginx-https", 1.2, "https-hit"),
    ("cluster: forwarded SET vs redis-benchmark --cluster (direct)",
     "proxy-cluster-set", "direct-cluster-set", 0.8, "cluster-set"),
]
# Where RATIO_GOALS' rows appear in goals(): the p99 goal goes after the
# first n (the HTTP hit goals).
P99_AFTER = 4
# A goal row that reports a figure rather than meeting a target.
REPORTED = "reported"


def goals(runs, meta, work):
    """[(text, measured, target, met (True/False/None/REPORTED), profile,
    detail)]"""
    out = []

    def ratio_goal(text, a, b, target, profile):
        rs = runs.ratios(a, b)
        if not rs:
            out.append((text, "n/a", "≥ %.2f×" % target, None, profile, ""))
            return
        med = statistics.median(rs)
        out.append((text, "%s (rounds %s)" % (
            fmt_x(med), ", ".join("%.2f" % r for r in rs)),
            "≥ %.2f×" % target, med >= target, profile,
            "%s vs %s req/s" % (fmt_rps(runs.median(a)),
                                fmt_rps(runs.median(b)))))

    for g in RATIO_GOALS[:P99_AFTER]:
        ratio_goal(*g)
    p99 = runs.values("proxy-http-hit", 4)
    if p99:
        med = statistics.median(p99)
        out.append(("HTTP cache hit p99", "%.3f ms (rounds %s)" % (
            med, ", ".join("%.3f" % v for v in p99)), "< 1 ms", med < 1.0,
            "http-hit", ""))
    else:
        out.append(("HTTP cache hit p99", "n/a", "< 1 ms", None,
                    "http-hit", ""))
    for g in RATIO_GOALS[P99_AFTER:]:
        ratio_goal(*g)
    big, small = keys_pair(meta)
    if big:
        ratio_goal("HTTP hits with %s keys cached vs %s" % (
            count_fmt(big.split("-")[-1]), count_fmt(small.split("-")[-1])),
            big, small, 0.9, "keys-max")
    mem = memory_figures(work)
    if mem:
        out.append(("memory overhead per entry, %s values of %s B" % (
            count_fmt(mem["keys"]), meta.get("V", "?")),
            "%.1f B (RSS); %s B (cache_memory_bytes)" % (
                mem["rss_over"], "n/a" if mem["acct_over"] is None
                else "%.1f" % mem["acct_over"]),
            "≤ 80 B", mem["rss_over"] <= 80, "memory", ""))
    else:
        out.append(("memory overhead per entry", "n/a", "≤ 80 B", None,
                    "memory", ""))
    sc = syscall_rows(work)
    for name, text, prof in (("proxy-http", "system calls per HTTP cache hit",
                              "http-hit"),
                             ("proxy-resp", "system calls per RESP GET hit",
                              "get-p1")):
        if name in sc:
            s = sc[name]
            ref = sc.get("redis-resp")
            out.append((text + " (50 conns, -P 1)", "%.2f%s" % (
                s["per"], "" if ref is None else
                " (redis-server %.2f)" % ref["per"]), "≤ 2.5",
                s["per"] <= 2.5, prof, ""))
        else:
            out.append((text, "n/a", "≤ 2.5", None, prof, ""))
    out.append(forwarded_syscalls_goal(sc))
    return out


def forwarded_syscalls_goal(sc):
    """The goals row of system calls per forwarded SET, -P 1 and -P 16,
    next to twemproxy's and the old design's."""
    text = "system calls per forwarded SET (50 conns, -P 1; -P 16)"
    before = "before issue 19's pipelines: %s" % "; ".join(
        "%.2f" % SYSCALLS_BEFORE[k] for k in ("proxy-set-p1", "proxy-set-p16"))
    if "proxy-set-p1" not in sc:
        return (text, "n/a", before, REPORTED, "set-p1", "")

    def per(name):
        return "%.2f" % sc[name]["per"] if name in sc else "n/a"

    return (text, "%s; %s (twemproxy %s; %s)" % (
        per("proxy-set-p1"), per("proxy-set-p16"), per("twemproxy-set-p1"),
        per("twemproxy-set-p16")), before, REPORTED, "set-p1", "")


# --- sections ----------------------------------------------------------------

def syscalls_md(d, meta=None):
    sc = syscall_rows(d)
    md = []
    w = md.append
    w("## System calls and context switches per request")
    w("")
    if not sc:
        w("n/a: syscalls.sh did not run (perf missing, or it failed).")
        return md
    w("`tools/bench/syscalls.sh` (also `make bench-syscalls`): the standard "
      "load (50 connections, %s s; wrk for HTTP, redis-benchmark `-P 1` "
      "for RESP GET hits; forwarded `SET` and `GET` of absent keys at `-P "
      "1` and `-P 16`, through the proxy and through twemproxy in front of "
      "the same Redis, each counting its own calls towards the clients and "
      "towards Redis), pinned as above, with `perf stat "
      "-e raw_syscalls:sys_enter,syscalls:sys_enter_<call>... -e "
      "context-switches -p PID` attached to the server (all its threads; "
      "`raw_syscalls:sys_enter` counts every system call, the "
      "`syscalls:sys_enter_<call>` tracepoints of ~40 calls name them, "
      "`other` is the rest; `SYSCALL_EVENTS=all` uses every "
      "`syscalls:sys_enter_*`) and the voluntary / nonvoluntary "
      "switch counts of `/proc/PID/task/*/status` read before and after; "
      "each figure is a count divided by the requests the load completed."
      % next(iter(sc.values()))["secs"])
    w("")
    w("| server | load | requests | req/s (under perf) | syscalls / req "
      "| context switches / req (perf) | voluntary / req | nonvoluntary / "
      "req | top system calls per request |")
    w("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    label = {"proxy-http": ("redis-proxy", "HTTP hit"),
             "limit-http": ("limit", "HTTP"),
             "proxy-resp": ("redis-proxy", "RESP GET hit"),
             "redis-resp": ("redis-server", "RESP GET"),
             "limit-resp": ("limit", "RESP GET")}
    for p in ("1", "16"):
        for sysn in ("proxy", "twemproxy"):
            name = "redis-proxy" if sysn == "proxy" else "twemproxy"
            label["%s-set-p%s" % (sysn, p)] = (name, "forwarded SET -P " + p)
            label["%s-miss-p%s" % (sysn, p)] = (
                name, "GET of absent keys -P " + p)
    for name, s in sc.items():
        sysn, load = label.get(name, (name, ""))
        top = ", ".join("`%s` %.2f" % (k, c / s["requests"])
                        for k, c in s["top"][:6])
        w("| %s | %s | {:,} | %s | **%.2f** | %.3f | %.3f | %.3f | %s |"
          .format(s["requests"]) % (sysn, load, fmt_rps(s["rps"]), s["per"],
                                    s["cs"], s["vol"], s["nonvol"], top))
    w("")
    if "proxy-set-p1" in sc:
        w("Before issue 19's shared pipelines (a worker waiting on a pooled "
          "connection for each client's batch), the proxy made %.2f system "
          "calls per forwarded SET at `-P 1` and %.2f at `-P 16` (the "
          "profiles of the goals missed in `docs/bench/results.md` as of "
          "commit e6c43d1, the same load; their printed 10.90 and 0.60 "
          "counted the calls of the load's calibration run but not its "
          "requests)." % (
              SYSCALLS_BEFORE["proxy-set-p1"],
              SYSCALLS_BEFORE["proxy-set-p16"]))
        w("")
    return md


def callgrind_top(path, count):
    """[(Ir, percent, function)] of a callgrind_annotate listing."""
    if not os.path.exists(path):
        return []
    rows, started = [], False
    with open(path) as f:
        for line in f:
            if "file:function" in line:
                started = True
                continue
            if not started or not line.strip() or line.startswith("-"):
                if started and rows and line.startswith("-"):
                    break
                continue
            if "clone.S:clone" in line or "pthread_create.c:start_thread" \
                    in line:
                continue  # every thread's root, not a function of ours
            parts = line.split(None, 2)
            if len(parts) < 3 or not parts[0].replace(",", "").isdigit():
                continue
            ir = int(parts[0].replace(",", ""))
            rest = parts[1] + " " + parts[2]
            pct = rest[rest.find("(") + 1:rest.find("%")].strip()
            fn = rest[rest.find(")") + 1:].strip()
            # "path/file.c:function [object]" -> "file.c:function"
            fn = fn.split(" [")[0]
            if ":" in fn:
                file, func = fn.rsplit(":", 1)
                fn = "%s:%s" % (os.path.basename(file), func)
            if any(r[2] == fn for r in rows):
                continue  # listed again (a cycle, or two objects)
            rows.append((ir, pct, fn))
            if len(rows) >= count:
                break
    return rows


def callgrind_md(d):
    md = []
    w = md.append
    w("## Instructions per cache hit (callgrind)")
    w("")
    rows = read_tsv(os.path.join(d, "callgrind.tsv"))
    if not rows:
        w("n/a: callgrind.sh did not run (valgrind missing, or it failed).")
        return md
    w("`tools/bench/callgrind.sh` (also `make bench-callgrind`): the proxy "
      "under `valgrind --tool=callgrind`, its cache filled, counters zeroed "
      "(`callgrind_control -z`), then a fixed number of HTTP hits "
      "(`keys.py http-get`, keep-alive, 8 connections) and a dump, then "
      "the same number of RESP GET hits (redis-benchmark -c 50 -P 1) and "
      "a dump. Ir = instructions executed by every thread of the proxy "
      "during the load, kernel excluded.")
    w("")
    w("| load | requests | Ir | Ir per request |")
    w("| --- | ---: | ---: | ---: |")
    for kind, n, ir in rows:
        if num(ir) is None:
            w("| %s | %s | n/a | n/a |" % (kind, n))
            continue
        w("| {} | {:,} | {:,} | **{:,.0f}** |".format(
            "HTTP hit" if kind == "http" else "RESP GET hit", int(n),
            int(ir), int(ir) / int(n)))
    for kind, n, ir in rows:
        if num(ir) is None:
            continue
        n = int(n)
        for which, title in (("inclusive", "inclusive"), ("self", "self")):
            top = callgrind_top(os.path.join(
                d, "callgrind-%s-%s.txt" % (kind, which)), 10)
            if not top:
                continue
            w("")
            w("Top 10 functions, %s, %s (Ir per request):" % (
                "HTTP hit" if kind == "http" else "RESP GET hit", title))
            w("")
            w("| Ir / request | % | function |")
            w("| ---: | ---: | --- |")
            for i, p, fn in top:
                w("| {:,.0f} | {} | `{}` |".format(i / n, p, fn))
    w("")
    return md


def profile_md(work, name, meta):
    base = os.path.join(work, "profile-" + name)
    md = []
    w = md.append

    def lines(ext):
        p = base + "." + ext
        if not os.path.exists(p):
            return []
        with open(p) as f:
            return [ln.rstrip() for ln in f if ln.strip()]

    self_ = lines("self")
    if not self_:
        w("(no profile recorded for this load)")
        return md
    w("Load: %s; `perf record -e cpu-clock -g -p <proxy pid>` for %s s, "
      "the proxy pinned to its CPU." % (
          PROFILE_TEXT.get(name, name), meta.get("PROFILE_SECONDS", "?")))
    w("")
    dso = lines("dso")
    if dso:
        w("Where the samples fall (by object):")
        w("")
        w("```")
        md.extend(dso[:6])
        w("```")
        w("")
    w("Top symbols (self time):")
    w("")
    w("```")
    md.extend(self_[:20])
    w("```")
    ch = lines("children")
    if ch:
        w("")
        w("Inclusive (with callees, kernel stacks; user-space stacks are "
          "partial without frame pointers):")
        w("")
        w("```")
        md.extend(ch[:18])
        w("```")
    sysl = lines("sys")
    load = lines("load")
    req = None
    if load:
        parts = load[-1].split()
        if len(parts) >= 4 and parts[3].isdigit():
            req = int(parts[3])
    if sysl and req:
        cs, total, sc = split_syscalls(
            [(k, int(c)) for k, c in (ln.split() for ln in sysl)])
        w("")
        w("System calls under the same load (`perf stat -e "
          "raw_syscalls:sys_enter,syscalls:sys_enter_<call>...`, {:,} "
          "requests): **{:.2f} per request**, "
          "{:.3f} context switches per request; by call: {}.".format(
              req, total / req, cs / req, ", ".join(
                  "`%s` %.2f" % (k, c / req) for k, c in sc[:8])))
    return md


# --- the report --------------------------------------------------------------

def report(work, out):
    meta = read_kv(os.path.join(work, "meta.tsv"))
    runs = Runs(work)
    m = meta.get
    md = []
    w = md.append
    gl = goals(runs, meta, work)
    met = sum(1 for g in gl if g[3] is True)
    targets = sum(1 for g in gl if g[3] != REPORTED)

    w("# redis-proxy benchmark results")
    w("")
    w("Written by `make bench` (`tools/bench.sh`) on %s: every figure below "
      "comes from that one run. %d of the %d goals met." % (
          m("date"), met, targets))
    if m("quick") == "1":
        w("")
        w("**QUICK=1 run: %s-second points and fewer rows, for development "
          "only; not figures to quote.**" % m("D"))
    w("")
    w("## How it was measured")
    w("")
    w("| | |")
    w("| --- | --- |")
    w("| machine | %s, %s CPUs, %s, %s |" % (m("cpu"), m("nproc"),
                                            m("memory"), m("os")))
    w("| kernel | %s |" % m("kernel"))
    w("| pinning | %s |" % (
        "every server (the proxy, Redis and the cluster nodes, nginx, "
        "webdis, Varnish, twemproxy, the limit server) under `taskset -c "
        "%s`, every load generator (wrk, redis-benchmark) under `taskset -c "
        "%s`: each system measured has the same single core; the far "
        "Redis's relay, which stands for the network, on the load "
        "generators' CPU %s" % (
            m("server_cpu"), m("client_cpu"), m("client_cpu"))
        if m("pin") == "1" else "off (PIN=0): servers and load generators "
        "share every CPU"))
    w("| rounds | %s, interleaved: round 1 measures every row below in "
      "order, then round 2, then round 3 |" % m("ROUNDS"))
    w("| each point | %s s (the connections rows %s s); %s rounds took %s "
      "s, the whole run %s s |" % (m("D"), m("SD"), m("ROUNDS"),
                                   m("rounds_seconds"), m("elapsed")))
    w("| load average (1, 5, 15 min) | %s at the start, %s at the end |"
      % (m("load_start"), m("load_end")))
    w("| proxy | tree `%s`, `make` (`CFLAGS = %s`); `workers` not set: the "
      "default, %s threads, of which the standby gate lets as many run at "
      "once as the CPUs the proxy may use (it counts its affinity mask: "
      "1 under `taskset -c %s`); `capacity` = the keys of its row, `ttl = "
      "%s`, `tracking = on`, log level `warn` |" % (
          m("tree"), m("cflags"), m("proxy_workers"), m("server_cpu"),
          m("TTL")))
    w("| Debian packages | %s |" % m("software"))
    w("")
    w("- Keys: `key:000000000000` .. `key:%012d` (%s keys, 12-digit "
      "zero-padded as `redis-benchmark -r` names them), values of %s bytes, "
      "in a `redis-server` with `tracking-table-max-keys 0` (no limit: at "
      "its default Redis invalidates tracked keys past 1M by itself)."
      % (int(m("N")) - 1, m("N"), m("V")))
    w("- HTTP loads: `wrk -t1 -c%s -d%ss --latency --timeout 5s -s "
      "tools/bench/rand.lua`, each request a key drawn uniformly at random; "
      "p99 from wrk's latency histogram." % (m("C"), m("D")))
    w("- RESP loads: `redis-benchmark -c %s -r %s -P 1` (or `-P 16`) "
      "`--csv`, `-t get`, or for writes the command `SET "
      "bench:set:__rand_int__ <%s B>` (other keys than the cached ones, so "
      "writes invalidate nothing); redis-benchmark counts requests, not "
      "seconds, so a short calibration run (also the warm-up) sizes `-n` "
      "to last about %s s." % (m("C"), m("N"), m("V"), m("D")))
    w("- GET of absent keys (`GET miss -P 1`, `-P 16`): redis-benchmark's "
      "`GET miss:__rand_int__` with the same `-r %s`, keys nobody sets. The "
      "proxy caches no absent key, so every request is a miss answered by "
      "a fill (`PTTL` and `GET` on a Redis pipeline), or by joining the "
      "fill of the same key already in flight; the notes give the proxy's "
      "and Redis's own hit counters over the load." % m("N"))
    w("- Far Redis (`far` rows): the same redis-server behind "
      "`tools/delay_relay` (built into `build/tools/delay_relay`), which "
      "holds the bytes it relays %s µs each way (`epoll_pwait2`, late by "
      "the kernel's timer slack at most): a `PING` on one connection took "
      "%s ms through it (p50 of 2,000, measured before the rounds) against "
      "%s ms straight to Redis, a round trip like a network's within one "
      "zone. A second proxy (`[redis] port` the relay's) and a second "
      "twemproxy point at the relay, each with its default connections to "
      "Redis (`pool_size`, `server_connections`). The relay runs on the "
      "load generators' CPU (%s): it stands for the network, and on the "
      "server CPU it would take from the system measured, the more the "
      "smaller its writes to Redis." % (
          m("RELAY_US"), m("relay_rtt_ms"), m("redis_rtt_ms"),
          m("client_cpu")))
    w("- The limit server (`tools/bench/limit.c`, built into "
      "`build/tools/limit`): one thread, level-triggered epoll, one read "
      "and one write per ready connection, no work but framing; it answers "
      "every HTTP request head with a fixed response of the proxy's hit "
      "size (%s bytes: head + body) and every RESP command with a fixed "
      "%s-byte bulk. It is what a server on this core and this kernel can "
      "do at most; every ratio against it says what the proxy's own work "
      "costs." % (m("hit_reply"), m("V")))
    w("- Peers: nginx 1 worker (`open_file_cache`, one file per key), "
      "webdis `threads = 1` (`GET /GET/<key>.txt`, a Redis read for "
      "every request: the peer of the proxy's HTTP miss row, whose cache "
      "is off, `capacity = 0`), Varnish "
      "`thread_pools=1`, `-s malloc,256m`, `beresp.ttl = 1h` in front of "
      "that webdis, twemproxy (one Redis server, `redis: true`), and the "
      "redis-server itself. Caches are warm before they are measured "
      "(every key read once); the hit ratios in the notes are the servers' "
      "own counters around each load.")
    w("- TLS rows: the certificate of `tools/tls-certs.sh` (EC P-256), "
      "TLS 1.3 with OpenSSL's default cipher on every side (the same "
      "OpenSSL 3 library): `redis-benchmark --tls --cacert` against the "
      "proxy's `tls_port` and against the same redis-server's `tls-port` "
      "(added with `CONFIG SET`); `wrk` over `https://` against the "
      "proxy's HTTP port with `[http] tls = on` and against a second "
      "nginx server block with `listen ... ssl` on the same files, in the "
      "same one-worker nginx. Connections are kept open, so the loads "
      "measure TLS records, not handshakes.")
    w("- Cluster: 3 masters + 3 replicas (`redis-cli --cluster create "
      "--cluster-replicas 1`), the proxy with `redis.cluster = on` and "
      "three seeds; the direct rows are `redis-benchmark --cluster` on the "
      "same nodes, whose keys are `key:{TAG}:<12 digits>` with one tag per "
      "master (`%s`), loaded beforehand for every key number so its GETs "
      "hit too." % m("cluster_tags"))
    w("- A point's figures: the median over the rounds of req/s and of "
      "p99; its spread is max ÷ min − 1 over the rounds; a ratio is the "
      "median of the per-round ratios (both systems measured in the same "
      "round, minutes apart). Every other server stays up, idle, while a "
      "point runs (the cluster nodes' gossip, timers).")
    w("- Other work on the machine: during every point the bench counts "
      "the CPU time of everything that is not itself, its servers or its "
      "load generators (column `other CPU`); a point during which that "
      "reached %s %% of a CPU was measured once more, 3 s later (at most "
      "%s such retries a run; ↻ in the per-round table), and keeps the "
      "second figures, whatever they saw." % (m("RETRY_OTHER"),
                                              m("MAX_RETRIES")))
    w("")
    w("## Goals")
    w("")
    w("| goal | measured (median of rounds) | target | met |")
    w("| --- | --- | --- | --- |")
    for text, meas, target, ok, _, detail in gl:
        w("| %s | %s%s | %s | %s |" % (
            text, meas, "; " + detail if detail else "", target,
            "n/a" if ok is None or meas == "n/a" else
            ok if ok == REPORTED else "yes" if ok else "**no**"))
    w("")
    w("A goal missed has a profile of the proxy under that load in "
      "[Profiles of the goals missed](#profiles-of-the-goals-missed).")
    w("")
    w("## Throughput and latency (medians of %s rounds)" % m("ROUNDS"))
    w("")
    w("| row | system | load | req/s | min – max | spread | p99 ms | "
      "÷ limit | proxy ÷ this | other CPU | notes |")
    w("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
      "| --- |")
    group_names = {
        "http-hit": "HTTP hit", "http-miss": "HTTP miss",
        "get-p1": "GET -P 1", "get-p16": "GET -P 16",
        "set-p1": "SET -P 1", "set-p16": "SET -P 16",
        "cluster": "cluster", "keys": "keys", "conns": "connections",
        "tls-get": "GET -P 1, TLS", "https-hit": "HTTPS hit",
        "miss-p1": "GET miss -P 1", "miss-p16": "GET miss -P 16",
        "far-set-p1": "far SET -P 1", "far-set-p16": "far SET -P 16",
        "far-miss-p1": "far GET miss -P 1", "far-miss-p16": "far GET miss -P 16",
    }
    for pid, group, system, proto, _secs in runs.points:
        vals = runs.values(pid, 2)
        med = runs.median(pid)
        lim = limit_of(runs, pid)
        vs_lim = runs.ratio(pid, lim) if lim and lim != pid else None
        peers = ["%s vs %s" % (fmt_x(runs.ratio(a, pid)), SHORT.get(a, a))
                 for a, b in PAIRS if b == pid and runs.ratio(a, pid)]
        if group == "keys":
            big, small = keys_pair(meta)
            if small and pid != small and runs.ratio(pid, small):
                peers.append("%s of %s" % (fmt_x(runs.ratio(pid, small)),
                                           small.split("-")[-1] + " keys"))
        spread = ("%.1f%%" % ((max(vals) / min(vals) - 1) * 100)
                  if vals and min(vals) > 0 else "n/a")
        oth = runs.other(pid)
        w("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            group_names.get(group, group), system, proto, fmt_rps(med),
            "%s – %s" % (fmt_rps(min(vals)), fmt_rps(max(vals)))
            if vals else "n/a", spread, fmt_ms(runs.median(pid, 4)),
            fmt_x(vs_lim) if vs_lim else "—",
            ", ".join(peers) if peers else "—",
            "n/a" if oth is None else "%.0f%%" % oth, runs.notes(pid)))
    w("")
    w("`÷ limit`: this row ÷ the limit server under the same load (HTTP, "
      "or RESP at the same pipeline depth and command), median of the "
      "per-round ratios. `proxy ÷ this`: the proxy's row named ÷ this row, "
      "the same way. `other CPU`: the median over the rounds of the CPU "
      "time that work other than this benchmark took on the machine during "
      "the point, in % of one CPU (all CPUs' user + system time in "
      "`/proc/stat` minus that of the bench, its servers and its load "
      "generators); on a machine of its own it is about 0.")
    w("")
    nr = int(m("ROUNDS") or 0)
    rinfo = dict((int(r[0]), r) for r in
                 read_tsv(os.path.join(work, "rounds.tsv")))
    w("### Every round (req/s; in brackets the other work's CPU when 5 % "
      "or more, and ↻ when the point was measured again)")
    w("")
    w("| row | " + " | ".join(
        "round %d (load %s)" % (i + 1, rinfo[i + 1][1].split()[0])
        if i + 1 in rinfo else "round %d" % (i + 1) for i in range(nr))
      + " |")
    w("| --- |" + " ---: |" * nr)

    def cell(r):
        c = fmt_rps(num(r[2]))
        o = num(r[7]) if len(r) > 7 else None
        if o is not None and o >= 5:
            c += " (%.0f%%)" % o
        if len(r) > 9 and r[9] not in ("0", ""):
            c += " ↻"
        return c

    for pid, group, system, proto, _ in runs.points:
        rr = runs.rounds(pid)
        w("| %s, %s | %s |" % (system, proto, " | ".join(
            cell(rr[i + 1]) if i + 1 in rr else "—" for i in range(nr))))
    w("")
    w("## Charts")
    w("")
    w("![the proxy's ratios against each peer and the limit, with the "
      "goals](ratios.png)")
    w("")
    w("![throughput of every row, median and range over the rounds]"
      "(throughput.png)")
    w("")
    w("![HTTP cache hits by cached keys and by connections](scaling.png)")
    w("")
    md.extend(memory_md(work, meta))
    md.extend(syscalls_md(work, meta))
    md.extend(callgrind_md(work))
    w("## Profiles of the goals missed")
    w("")
    missed = [g for g in gl if g[3] is False]
    if not missed:
        w("None missed.")
    done = set()
    for text, meas, target, ok, prof, detail in missed:
        w("### %s: %s, target %s" % (text, meas, target))
        w("")
        if prof == "memory":
            md.extend(memory_where(work))
        elif prof in done:
            w("The same load as a profile above: %s." %
              PROFILE_TEXT.get(prof, prof))
        else:
            md.extend(profile_md(work, prof, meta))
            done.add(prof)
        w("")
    if os.path.exists(os.path.join(work, "profile-cluster-get.self")):
        w("### Not a goal: cached GETs in front of the cluster")
        w("")
        md.extend(profile_md(work, "cluster-get", meta))
        w("")
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    write_dat(work, runs, meta)


def memory_md(work, meta):
    md = []
    w = md.append
    w("## Memory per cached entry")
    w("")
    f = memory_figures(work)
    if not f:
        w("n/a: the memory run did not complete.")
        w("")
        return md
    w("A fresh proxy (`capacity = {:,}`, `max_memory = 0`): RSS (`VmRSS`) "
      "read after startup, then every key read once through its RESP port "
      "(pipelined, batches of 1,000, {} s), RSS read again a second after "
      "the fill's connections closed; entries and bytes from its "
      "`/metrics`. The same proxy is the largest row of the keys scan."
      .format(f["keys"], f["fill_seconds"]))
    w("")
    w("| | |")
    w("| --- | ---: |")
    w("| entries cached | {:,} |".format(f["entries"]))
    w("| RSS after startup → with the entries | {:,} kB → {:,} kB |".format(
        f["rss_before_kb"], f["rss_after_kb"]))
    w("| RSS growth per entry | {:.1f} B |".format(f["rss_per"]))
    w("| key + value per entry | {:.1f} B |".format(f["kv_per"]))
    w("| **overhead per entry (RSS growth − key − value)** | **{:.1f} B** |"
      .format(f["rss_over"]))
    if f["acct_over"] is not None:
        w("| the proxy's own count, `cache_memory_bytes` per entry − key − "
          "value | {:.1f} B |".format(f["acct_over"]))
    w("| evictions, invalidations during the fill | %s, %s |"
      % (f["evictions"], f["invalidations"]))
    w("")
    return md


def memory_where(work):
    f = memory_figures(work)
    md = []
    w = md.append
    if not f:
        w("n/a")
        return md
    w("Where the bytes go, per entry (RSS overhead {:.1f} B):".format(
        f["rss_over"]))
    w("")
    w("| part | bytes per entry |")
    w("| --- | ---: |")
    if f["acct_over"] is not None:
        w("| the entry's allocation beyond key and value, as the cache counts "
          "it (`cache_memory_bytes`: `malloc_usable_size` + the 8-byte glibc "
          "chunk header; the entry header is 64 B, the rest is malloc's "
          "rounding of header + key + value up to 16 B) | {:.1f} |".format(
              f["acct_over"]))
    w("| the bucket array: 8 B × {:,} buckets (capacity rounded up to a "
      "power of two) ÷ {:,} entries | {:.1f} |".format(
          f["buckets"], f["entries"], f["bucket_per"]))
    rest = f["rss_over"] - (f["acct_over"] or 0) - f["bucket_per"]
    w("| the rest of the RSS growth (allocator arenas and free lists, the "
      "fill's buffers, pages touched) | {:.1f} |".format(rest))
    w("")
    return md


def write_dat(work, runs, meta):
    """ratios.dat: label, median, min, max, goal or 0 (for ratios.gp);
    throughput.dat: label, median, min, max, kind (0 proxy, 1 limit,
    2 peer); scale-{keys,conns}.dat: x label, median, min, max, p99."""
    rows = []
    targets = dict(((a, b), t) for _, a, b, t, _ in RATIO_GOALS)
    comps = [("proxy-http-hit", "limit-http")] + PAIRS[:4] + [
        ("proxy-get-p1", "limit-get-p1"), ("proxy-get-p16", "limit-get-p16"),
        ("proxy-set-p1", "limit-set-p1"), ("proxy-set-p16", "limit-set-p16"),
    ] + PAIRS[4:]
    for a, b in comps:
        rs = runs.ratios(a, b)
        if not rs:
            continue
        rows.append("%s\\nvs %s\t%.4f\t%.4f\t%.4f\t%s" % (
            SHORT.get(a, a), SHORT.get(b, b), statistics.median(rs),
            min(rs), max(rs), "%.2f" % targets[(a, b)]
            if (a, b) in targets else "0"))
    with open(os.path.join(work, "ratios.dat"), "w") as f:
        f.write("\n".join(rows) + "\n")
    rows = []
    for pid, group, system, proto, _ in runs.points:
        if group in ("keys", "conns"):
            continue
        vals = runs.values(pid, 2)
        if not vals:
            continue
        kind = 0 if pid.startswith("proxy") else 1 if pid.startswith(
            "limit") else 2
        short = system.split(" (")[0].replace("redis-benchmark --cluster",
                                              "direct")
        rows.append("%s, %s\t%.0f\t%.0f\t%.0f\t%d" % (
            short, proto.replace("RESP ", "").replace(", far", ""),
            statistics.median(vals),
            min(vals), max(vals), kind))
    with open(os.path.join(work, "throughput.dat"), "w") as f:
        f.write("\n".join(rows) + "\n")
    for group, fname in (("keys", "scale-keys.dat"),
                         ("conns", "scale-conns.dat")):
        rows = []
        pts = [p for p in runs.points if p[1] == group]
        if group == "conns":
            pts = pts + [("proxy-http-hit", "conns", "", "", "")]
        for p in pts:
            x = int(meta.get("C", 50)) if p[0] == "proxy-http-hit" else \
                int(p[0].split("-")[-1])
            vals = runs.values(p[0], 2)
            if not vals:
                continue
            rows.append((x, "%s\t%.0f\t%.0f\t%.0f\t%.3f" % (
                count_fmt(x) if group == "keys" else x,
                statistics.median(vals), min(vals), max(vals),
                runs.median(p[0], 4) or 0)))
        rows.sort()
        with open(os.path.join(work, fname), "w") as f:
            f.write("\n".join(r for _, r in rows) + "\n")


def profiles(work):
    meta = read_kv(os.path.join(work, "meta.tsv"))
    seen = []
    for g in goals(Runs(work), meta, work):
        if g[3] is False and g[4] not in seen and g[4] != "memory":
            seen.append(g[4])
    print("\n".join(seen))


def main(argv):
    if len(argv) == 4 and argv[1] == "report":
        report(argv[2], argv[3])
    elif len(argv) == 3 and argv[1] == "profiles":
        profiles(argv[2])
    elif len(argv) == 3 and argv[1] == "syscalls":
        print("\n".join(syscalls_md(argv[2])))
    elif len(argv) == 3 and argv[1] == "callgrind":
        print("\n".join(callgrind_md(argv[2])))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
