#!/usr/bin/env python3
"""Key loader and cache warmer for tools/bench.sh.

Keys are named the way redis-benchmark -r names them: "key:" followed by a
12-digit zero-padded number, so a redis-benchmark GET run and a wrk run with
tools/bench/rand.lua read exactly the keys loaded here. Every command below
is bounded: sockets time out, and a short reply is an error, not a hang.

  keys.py ports COUNT                    COUNT distinct free loopback TCP ports
  keys.py load PORT FIRST END SIZE       SET key:<i> = SIZE bytes, i in [FIRST, END)
  keys.py resp-get PORT FIRST END        GET every key once over RESP, pipelined;
                                         prints "hits nils errors"
  keys.py http-get PORT PREFIX SUFFIX FIRST END
                                         GET PREFIX<key>SUFFIX over keep-alive
                                         HTTP/1.1 connections; prints "ok other"

load, resp-get and http-get split the range over CONNS connections (env
KEYS_CONNS, default 8), one thread each, so a server that answers a
connection's pipeline one request at a time is still filled in parallel.
  keys.py files DIR FIRST END SIZE       write DIR/key:<i> holding the value
"""
import os
import socket
import sys

BATCH = 10000          # commands in flight per pipelined round trip
TIMEOUT = 30.0         # seconds any one socket operation may take


def key(i):
    return "key:%012d" % i


def value(size):
    return b"v" * size


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def free_ports(count):
    socks, ports = [], []
    for _ in range(count):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    print(" ".join(map(str, ports)))


def resp_cmd(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def parallel(fn, first, end, *args):
    """Runs fn(lo, hi, *args) over CONNS slices of [first, end) in threads;
    returns the list of results. Any failure in a thread fails the command."""
    import threading
    conns = max(1, min(int(os.environ.get("KEYS_CONNS", "8")), end - first))
    step = -(-(end - first) // conns) if end > first else 1
    results, errors = [], []

    def run(lo, hi):
        try:
            results.append(fn(lo, hi, *args))
        except BaseException as e:  # noqa: B902 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(lo, min(end, lo + step)))
               for lo in range(first, end, step)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        sys.exit("keys.py: %s" % errors[0])
    return results


def load_slice(lo_all, end, port, size):
    """Pipelined SETs; every reply must be +OK."""
    s, val = connect(port), value(size)
    for lo in range(lo_all, end, BATCH):
        hi = min(end, lo + BATCH)
        s.sendall(b"".join(resp_cmd(b"SET", key(i).encode(), val)
                           for i in range(lo, hi)))
        want, got, lines = hi - lo, bytearray(), 0
        while lines < want:
            chunk = s.recv(1 << 20)
            if not chunk:
                raise RuntimeError("load: connection closed by server")
            lines += chunk.count(b"\n")
            got += chunk
        if got.count(b"+OK\r\n") != want:
            raise RuntimeError("load: unexpected reply: %r" % bytes(got[:200]))
    s.close()
    return end - lo_all


class Reader:
    """Incremental RESP2 reply reader over a socket (GET replies only)."""

    def __init__(self, sock):
        self.sock, self.buf, self.pos = sock, bytearray(), 0

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise RuntimeError("connection closed by server")
        if self.pos > (1 << 20):
            del self.buf[:self.pos]
            self.pos = 0
        self.buf += chunk

    def _line(self):
        while True:
            nl = self.buf.find(b"\r\n", self.pos)
            if nl >= 0:
                line = bytes(self.buf[self.pos:nl])
                self.pos = nl + 2
                return line
            self._fill()

    def reply(self):
        """Returns 0 for a value, 1 for nil, 2 for anything else."""
        line = self._line()
        if line[:1] == b"$":
            n = int(line[1:])
            if n < 0:
                return 1
            while len(self.buf) - self.pos < n + 2:
                self._fill()
            self.pos += n + 2
            return 0
        return 2


def resp_get_slice(lo_all, end, port):
    s = connect(port)
    r, counts = Reader(s), [0, 0, 0]
    for lo in range(lo_all, end, BATCH):
        hi = min(end, lo + BATCH)
        s.sendall(b"".join(resp_cmd(b"GET", key(i).encode())
                           for i in range(lo, hi)))
        for _ in range(hi - lo):
            counts[r.reply()] += 1
    s.close()
    return counts


def http_get_slice(lo, end, port, prefix, suffix):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    counts = [0, 0]
    for i in range(lo, end):
        c.request("GET", prefix + key(i) + suffix)
        resp = c.getresponse()
        resp.read()
        counts[resp.status != 200] += 1
    c.close()
    return counts


def files(d, first, end, size):
    val = value(size)
    for i in range(first, end):
        with open(os.path.join(d, key(i)), "wb") as f:
            f.write(val)


def total(results, width):
    return " ".join(str(sum(r[j] for r in results)) for j in range(width))


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, a = argv[1], argv[2:]
    if cmd == "ports" and len(a) == 1:
        free_ports(int(a[0]))
    elif cmd == "load" and len(a) == 4:
        parallel(load_slice, int(a[1]), int(a[2]), int(a[0]), int(a[3]))
    elif cmd == "resp-get" and len(a) == 3:
        print(total(parallel(resp_get_slice, int(a[1]), int(a[2]),
                             int(a[0])), 3))
    elif cmd == "http-get" and len(a) == 5:
        print(total(parallel(http_get_slice, int(a[3]), int(a[4]),
                             int(a[0]), a[1], a[2]), 2))
    elif cmd == "files" and len(a) == 4:
        files(a[0], int(a[1]), int(a[2]), int(a[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
