"""redis-py (Debian's python3-redis) with a Redis ACL user's name and
password through the proxy's resp_port (ACL passthrough), driven by
tests/e2e/test_acl.c, which checks the exit status and that every line
below was printed, in order.

Usage: acl_lib.py PORT
The Redis behind the proxy has the users alice (~a:* +@all, password
alicepw) and bob (~b:* +@read, password bobpw), and the key b:1 = "b".
Each section prints "ok <name>" or raises.
"""
import sys

import redis


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def refused(fn, kind):
    try:
        fn()
    except kind as e:
        return str(e)
    raise AssertionError("not refused: %r" % fn)


def alice(port):
    r = redis.Redis(port=port, username="alice", password="alicepw")
    check(r.acl_whoami() == "alice", "ACL WHOAMI: %r" % r.acl_whoami())
    check(r.set("a:1", "one") is True, "SET a:1")
    check([r.get("a:1") for _ in range(3)] == [b"one"] * 3, "GET a:1")
    p = r.pipeline()
    p.set("a:n", 1)
    p.incr("a:n")
    p.get("a:n")
    check(p.execute() == [True, 2, b"2"], "MULTI/EXEC as alice")
    why = refused(lambda: r.get("b:1"), redis.exceptions.NoPermissionError)
    check("no permissions to access one of the keys" in why, why)
    refused(lambda: r.set("b:1", "x"), redis.exceptions.NoPermissionError)
    print("ok alice")


def bob(port):
    r = redis.Redis(port=port, username="bob", password="bobpw")
    check([r.get("b:1") for _ in range(3)] == [b"b"] * 3, "GET b:1")
    why = refused(lambda: r.set("b:1", "x"), redis.exceptions.NoPermissionError)
    check("'set' command" in why, why)
    check(r.get("b:1") == b"b", "a refused SET changed b:1")
    print("ok bob")


def wrong_password(port):
    r = redis.Redis(port=port, username="alice", password="nope")
    why = refused(r.ping, redis.exceptions.RedisError)
    check("WRONGPASS" in why, why)
    print("ok wrong_password")


def main():
    port = int(sys.argv[1])
    alice(port)
    bob(port)
    wrong_password(port)
    print("all ok")


if __name__ == "__main__":
    main()
