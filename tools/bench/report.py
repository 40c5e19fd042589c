#!/usr/bin/env python3
"""Turns the measurements of tools/bench.sh into OUT/results.md and the data
files the gnuplot scripts read (written next to the measurements).

Usage: report.py WORKDIR OUT

WORKDIR holds, tab separated (written by bench.sh):
  meta.tsv           name, value: machine, versions, parameters
  main.tsv           id, system, protocol, req/s, p50 ms, p99 ms, note
  scale-keys.tsv, scale-workers.tsv, scale-conns.tsv
                     x, req/s, p50 ms, p99 ms, note
  memory.tsv         name, value
A value that could not be measured is "n/a". Writes WORKDIR/ratios.dat
(label, proxy / peer throughput) for ratios.gp.
"""
import os
import sys

# (proxy row, peer row): the comparisons the report and ratios.png make.
# A peer is compared with the proxy doing the same job: HTTP front ends with
# the proxy's HTTP hits, webdis also with the proxy's cache-off path (both go
# to Redis for every request), RESP peers with the proxy's RESP hits at the
# same pipeline depth.
PAIRS = [
    ("proxy-http-hit", "nginx"),
    ("proxy-http-hit", "varnish"),
    ("proxy-http-hit", "webdis"),
    ("proxy-http-miss", "webdis"),
    ("proxy-resp-p1", "twemproxy-p1"),
    ("proxy-resp-p16", "twemproxy-p16"),
    ("proxy-resp-p1", "redis-p1"),
    ("proxy-resp-p16", "redis-p16"),
]
SHORT = {
    "proxy-http-hit": "HTTP hit",
    "proxy-http-miss": "HTTP cache off",
    "proxy-resp-p1": "RESP -P 1",
    "proxy-resp-p16": "RESP -P 16",
    "nginx": "nginx static",
    "varnish": "Varnish hit",
    "webdis": "webdis",
    "twemproxy-p1": "twemproxy -P 1",
    "twemproxy-p16": "twemproxy -P 16",
    "redis-p1": "Redis -P 1",
    "redis-p16": "Redis -P 16",
}
# Chart labels: the peer without the pipeline depth the proxy side names.
CHART = dict(SHORT, **{"twemproxy-p1": "twemproxy", "twemproxy-p16": "twemproxy",
                       "redis-p1": "Redis", "redis-p16": "Redis"})


def read_tsv(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip()]


def num(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return None


def rps(s):
    v = num(s)
    return "n/a" if v is None else "{:,.0f}".format(v)


def ms(s):
    v = num(s)
    return "n/a" if v is None else "%.3f" % v


def ratio(a, b):
    a, b = num(a), num(b)
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt_ratio(r):
    return "n/a" if r is None else "%.2f×" % r


def note(s):
    return "" if s in ("-", "") else s.rstrip(";").replace(";", "; ")


def main(work, out):
    meta = dict((r[0], r[1] if len(r) > 1 else "")
                for r in read_tsv(os.path.join(work, "meta.tsv")))
    rows = read_tsv(os.path.join(work, "main.tsv"))
    by_id = dict((r[0], r) for r in rows)
    mem = dict((r[0], r[1] if len(r) > 1 else "")
               for r in read_tsv(os.path.join(work, "memory.tsv")))
    m = meta.get
    md = []
    w = md.append

    w("# redis-proxy benchmark results")
    w("")
    w("Written by `make bench` (`tools/bench.sh`); every number below comes "
      "from one run, all servers on 127.0.0.1 of one machine, one after "
      "another.")
    if m("quick") == "1":
        w("")
        w("**QUICK=1 run: 2-second loads and fewer scaling points, for "
          "development only.**")
    w("")
    w("## Machine")
    w("")
    w("| | |")
    w("| --- | --- |")
    w("| date | %s |" % m("date"))
    w("| CPU | %s, `nproc` = %s |" % (m("cpu"), m("nproc")))
    w("| kernel | %s |" % m("kernel"))
    w("| memory | %s |" % m("memory"))
    w("| load average (1, 5, 15 min) | %s at start, %s at end |"
      % (m("load_start"), m("load_end")))
    w("| proxy tree | `%s`, built with `make` (`OPT = %s`) |"
      % (m("tree"), m("cflags")))
    w("| run time | %s s |" % m("elapsed"))
    w("| Debian packages | %s |" % m("software"))
    w("")
    w("Client and servers share the machine's %s CPUs, so every figure is "
      "the client and the server together on those cores; the load "
      "average says how much else ran at the time." % m("nproc"))
    w("")
    w("## Parameters")
    w("")
    w("- Keys: `key:000000000000` .. `key:%012d` (%s keys, 12-digit "
      "zero-padded as `redis-benchmark -r` names them), values of %s bytes, "
      "loaded into a throwaway `redis-server` with pipelined `SET`s. "
      "That Redis runs with `tracking-table-max-keys 0` (no limit): at its "
      "default of 1,000,000 tracked keys Redis itself invalidates keys the "
      "proxy read, and a proxy with `tracking = on` cannot hold more than "
      "about 1M entries." % (int(m("N")) - 1, m("N"), m("V")))
    w("- HTTP loads: `wrk -t1 -c%s -d%ss --timeout 5s -s "
      "tools/bench/rand.lua`, each request a key drawn uniformly at random; "
      "p50 and p99 from wrk's latency histogram." % (m("C"), m("D")))
    w("- RESP loads: `redis-benchmark -t get -c %s -r %s -P 1` and `-P 16` "
      "with `--csv` (rps, p50, p99); redis-benchmark counts requests, not "
      "seconds, so a calibration run (also the warm-up) sizes `-n` to last "
      "about %s s." % (m("C"), m("N"), m("D")))
    w("- Caches are warm before they are measured: every key is read once "
      "(the proxy over RESP, pipelined; nginx and Varnish over HTTP); the "
      "hit ratio in the notes comes from the proxy's own `/metrics` "
      "counters around each load.")
    w("- redis-proxy: `workers = %s`, `pool_size = 8`, `capacity = %s`, "
      "`ttl = %s`, `tracking = on`, log level `warn`; the cache-off row "
      "runs a second proxy with `capacity = 0`, so every request is a "
      "`GET` to Redis." % (m("WORKERS"), m("N"), m("TTL")))
    w("- Peers: nginx (`worker_processes auto`, `open_file_cache`, one "
      "file per key), webdis (`threads` = nproc, `GET /GET/<key>.txt`), "
      "Varnish (`-s malloc,256m`, `beresp.ttl = 1h`) in front of that "
      "webdis, twemproxy (one Redis server, `redis: true`), and the "
      "redis-server all of them read.")
    w("")
    w("## Throughput and latency")
    w("")
    w("| system | protocol | req/s | p50 ms | p99 ms | proxy ÷ system "
      "(req/s) | notes |")
    w("| --- | --- | ---: | ---: | ---: | --- | --- |")
    for r in rows:
        rid = r[0]
        cmp = ["%s vs %s" % (fmt_ratio(ratio(by_id[p][3], r[3])), SHORT[p])
               for p, q in PAIRS if q == rid and p in by_id]
        w("| %s | %s | %s | %s | %s | %s | %s |" % (
            r[1], r[2], rps(r[3]), ms(r[4]), ms(r[5]),
            ", ".join(cmp) if cmp else "—", note(r[6])))
    w("")
    w("## The proxy against each peer")
    w("")
    w("| proxy | peer | req/s: proxy ÷ peer | p99: peer ÷ proxy |")
    w("| --- | --- | ---: | ---: |")
    dat = []
    for p, q in PAIRS:
        if p not in by_id or q not in by_id:
            continue
        tr = ratio(by_id[p][3], by_id[q][3])
        lr = ratio(by_id[q][5], by_id[p][5])
        w("| %s | %s | %s | %s |" % (SHORT[p], SHORT[q], fmt_ratio(tr),
                                     fmt_ratio(lr)))
        dat.append("%s\\nvs %s\t%s" % (CHART[p], CHART[q],
                                      "n/a" if tr is None else "%.4f" % tr))
    with open(os.path.join(work, "ratios.dat"), "w") as f:
        f.write("\n".join(dat) + "\n")
    w("")
    w("Above 1 the proxy is faster (throughput) or has the lower p99.")
    w("")
    w("![proxy throughput divided by each peer's](ratios.png)")
    w("")
    w("## Scaling: proxy HTTP cache hits")
    w("")
    w("Each point: `wrk -t1 -d%ss`, uniform random keys, all cached."
      % m("SD"))
    scans = [
        ("scale-keys", "cached keys", "one proxy (`capacity` = the largest "
         "size) whose cache grows from one size to the next, %s "
         "connections, %s workers" % (m("C"), m("WORKERS"))),
        ("scale-workers", "workers", "a fresh proxy per point, %s keys, "
         "%s connections" % (m("N"), m("C"))),
        ("scale-conns", "connections", "one proxy, %s keys, %s workers, "
         "`max_clients` above the largest count" % (m("N"), m("WORKERS"))),
    ]
    for name, label, how in scans:
        data = read_tsv(os.path.join(work, name + ".tsv"))
        w("")
        w("### By %s" % label)
        w("")
        w(how[0].upper() + how[1:] + ".")
        w("")
        w("| %s | req/s | p50 ms | p99 ms | notes |" % label)
        w("| ---: | ---: | ---: | ---: | --- |")
        for r in data:
            w("| {:,} | {} | {} | {} | {} |".format(
                int(r[0]), rps(r[1]), ms(r[2]), ms(r[3]), note(r[4])))
    w("")
    w("![scaling by cached keys, workers and connections](scaling.png)")
    w("")
    w("## Memory per cached entry")
    w("")
    if mem.get("entries"):
        n = int(mem["entries"])
        before, after = int(mem["rss_before_kb"]), int(mem["rss_after_kb"])
        kv = int(mem["kv_bytes"])
        grown = (after - before) * 1024
        per = grown / n
        w("A fresh proxy (`capacity = %s`), RSS (`VmRSS`) read after "
          "startup, then every key read once through the RESP port "
          "(pipelined, %s s), RSS read again; entries and key+value bytes "
          "from `/stats.json`." % (mem["keys"], mem["fill_seconds"]))
        w("")
        w("| | |")
        w("| --- | ---: |")
        w("| entries cached | {:,} |".format(n))
        w("| RSS after startup | {:,} kB |".format(before))
        w("| RSS with the entries | {:,} kB |".format(after))
        w("| RSS growth per entry | {:.1f} B |".format(per))
        w("| key + value per entry | {:.1f} B |".format(kv / n))
        w("| **overhead per entry beyond key + value** | **{:.1f} B** |"
          .format(per - kv / n))
        w("| evictions, invalidations during the fill | %s, %s |"
          % (mem.get("evictions", "?"), mem.get("invalidations", "?")))
        w("")
        w("The overhead is everything the cache spends per entry: the entry "
          "header (hash and LRU links, reference count, expiry, ETag), "
          "malloc's rounding and chunk header, and the bucket array (one "
          "pointer per bucket, buckets = capacity rounded up to a power of "
          "two).")
    else:
        w("n/a: the memory run did not complete.")
    w("")
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write("\n".join(md))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
