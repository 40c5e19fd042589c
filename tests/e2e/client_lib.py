"""A real client library against the proxy's resp_port: redis-py (Debian's
python3-redis) driven by tests/e2e/test_client_lib.c, which checks the exit
status and that every line below was printed, in order.

Usage: client_lib.py PORT DIRECT_PORT
PORT is the proxy's resp_port; DIRECT_PORT the Redis behind it, for the
other client of the WATCH test. Each section prints "ok <name>" or raises.
"""
import sys
import threading
import time

import redis


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def pipelines(r):
    p = r.pipeline(transaction=False)
    for i in range(200):
        p.set("pl:%d" % i, "v%d" % i)
    for i in range(200):
        p.get("pl:%d" % i)
    p.get("pl:none")
    p.incr("pl:count")
    p.lpush("pl:0", "x")  # WRONGTYPE, returned in its place
    out = p.execute(raise_on_error=False)
    check(out[:200] == [True] * 200, "SETs: %r" % out[:3])
    check(out[200:400] == [b"v%d" % i for i in range(200)], "GETs")
    check(out[400] is None, "GET of a missing key: %r" % out[400])
    check(out[401] == 1, "INCR: %r" % out[401])
    check(isinstance(out[402], redis.ResponseError)
          and "WRONGTYPE" in str(out[402]), "LPUSH: %r" % out[402])
    # read back: the pipeline's GETs went to Redis behind their SETs; now
    # a fill each, then the cache answers, with the same bytes
    for _ in range(2):
        check([r.get("pl:%d" % i) for i in range(5)]
              == [b"v%d" % i for i in range(5)], "GETs again")
    print("ok pipelines")


def transactions(r):
    with r.pipeline() as p:
        p.set("tx:a", 1)
        p.incr("tx:a")
        p.get("tx:a")
        check(p.execute() == [True, 2, b"2"], "MULTI/EXEC")
    r.set("tx:n", 10)

    def incr(pipe):
        v = int(pipe.get("tx:n"))
        pipe.multi()
        pipe.set("tx:n", v + 1)

    check(r.transaction(incr, "tx:n") == [True], "transaction()")
    check(r.get("tx:n") == b"11", "after transaction(): %r" % r.get("tx:n"))
    print("ok transactions")


def watch_abort(r, direct):
    r.set("w:k", "before")
    with r.pipeline() as p:
        p.watch("w:k")
        check(p.get("w:k") == b"before", "GET while watching")
        direct.set("w:k", "other")  # another client changes it
        p.multi()
        p.set("w:k", "mine")
        try:
            p.execute()
            raise AssertionError("EXEC ran after the watched key changed")
        except redis.WatchError:
            pass
    check(direct.get("w:k") == b"other", "the other client's write stays")
    print("ok watch")


def pubsub(r):
    ps = r.pubsub()
    ps.subscribe("news")
    ps.psubscribe("n*")
    kinds = []
    while len(kinds) < 2:
        m = ps.get_message(timeout=5)
        check(m is not None, "no subscribe confirmation")
        kinds.append(m["type"])
    check(kinds == ["subscribe", "psubscribe"], "confirmations: %r" % kinds)
    check(r.publish("news", "hello") == 2, "PUBLISH reached both")
    got = []
    while len(got) < 2:
        m = ps.get_message(timeout=5)
        check(m is not None, "message not delivered: %r" % got)
        got.append((m["type"], m["data"]))
    check(sorted(got) == [("message", b"hello"), ("pmessage", b"hello")],
          "messages: %r" % got)
    ps.unsubscribe("news")
    ps.punsubscribe("n*")
    ps.close()
    check(r.publish("news", "nobody") == 0, "unsubscribed")
    print("ok pubsub")


def blocking(r):
    check(r.blpop("bq", timeout=1) is None, "BLPOP timed out with nil")

    def push():
        time.sleep(0.3)
        r.rpush("bq", "x")

    t = threading.Thread(target=push)
    t.start()
    got = r.blpop("bq", timeout=10)
    t.join()
    check(got == (b"bq", b"x"), "BLPOP: %r" % (got,))
    r.rpush("bq2", "a", "b")
    check(r.brpoplpush("bq2", "bq3", timeout=1) == b"b", "BRPOPLPUSH")
    check(r.lrange("bq3", 0, -1) == [b"b"], "BRPOPLPUSH moved it")
    print("ok blocking")


def scanning(r):
    want = set()
    p = r.pipeline(transaction=False)
    for i in range(250):
        p.set("scan:%d" % i, i)
        want.add(b"scan:%d" % i)
    p.execute()
    got = set(r.scan_iter(match="scan:*", count=40))
    check(got == want, "scan_iter: %d keys, want %d" % (len(got), len(want)))
    r.hset("scan:h", mapping={"f%d" % i: i for i in range(50)})
    check(len(dict(r.hscan_iter("scan:h"))) == 50, "hscan_iter")
    print("ok scan_iter")


def errors_and_bytes(r):
    try:
        r.execute_command("NOSUCHCOMMAND", "x")
        raise AssertionError("an unknown command succeeded")
    except redis.ResponseError as e:
        check("unknown command" in str(e), str(e))
    blob = bytes(range(256)) * 64
    r.set("bin", blob)
    check(r.get("bin") == blob and r.get("bin") == blob, "binary round trip")
    print("ok errors_and_bytes")


def main():
    r = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]),
                    socket_timeout=10)
    direct = redis.Redis(host="127.0.0.1", port=int(sys.argv[2]),
                         socket_timeout=10)
    check(r.ping() is True, "PING")
    pipelines(r)
    transactions(r)
    watch_abort(r, direct)
    pubsub(r)
    blocking(r)
    scanning(r)
    errors_and_bytes(r)
    print("all ok")


if __name__ == "__main__":
    main()
