-- wrk script for tools/bench.sh: GET a key chosen uniformly at random from
-- key:000000000000 .. key:<BENCH_KEYS - 1>, 12-digit zero-padded like
-- redis-benchmark -r, as the path BENCH_PREFIX .. key .. BENCH_SUFFIX.
-- done() prints one machine-readable line:
--   BENCH rps=<req/s> p50_us=<> p99_us=<> requests=<> errors=<socket errors>
--         non2xx=<non-2xx/3xx responses>
local nkeys = tonumber(os.getenv("BENCH_KEYS") or "10000")
local prefix = os.getenv("BENCH_PREFIX") or "/"
local suffix = os.getenv("BENCH_SUFFIX") or ""
local threads = 0

function setup(thread)
   -- one Lua state per wrk thread: give each its own random sequence
   threads = threads + 1
   thread:set("id", threads)
end

function init(args)
   math.randomseed(os.time() + 7919 * (id or 0))
end

function request()
   local path = string.format("%s%s%012d%s", prefix, "key:",
                              math.random(0, nkeys - 1), suffix)
   return wrk.format("GET", path)
end

function done(summary, latency, requests)
   local e = summary.errors
   local secs = summary.duration / 1e6
   io.write(string.format(
      "BENCH rps=%.0f p50_us=%d p99_us=%d requests=%d errors=%d non2xx=%d\n",
      summary.requests / secs, latency:percentile(50), latency:percentile(99),
      summary.requests, e.connect + e.read + e.write + e.timeout, e.status))
end
