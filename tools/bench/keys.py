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
                                         GET PREFIX<key>SUFFIX over one keep-alive
                                         HTTP/1.1 connection; prints "ok other"
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


def load(port, first, end, size):
    """Pipelined SETs; every reply must be +OK."""
    s, val = connect(port), value(size)
    for lo in range(first, end, BATCH):
        hi = min(end, lo + BATCH)
        s.sendall(b"".join(resp_cmd(b"SET", key(i).encode(), val)
                           for i in range(lo, hi)))
        want, got = hi - lo, b""
        while got.count(b"\r\n") < want:
            chunk = s.recv(1 << 20)
            if not chunk:
                sys.exit("keys.py load: connection closed by server")
            got += chunk
        if got.count(b"+OK\r\n") != want:
            sys.exit("keys.py load: unexpected reply: %r" % got[:200])
    s.close()


class Reader:
    """Incremental RESP2 reply reader over a socket (GET replies only)."""

    def __init__(self, sock):
        self.sock, self.buf, self.pos = sock, bytearray(), 0

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            sys.exit("keys.py: connection closed by server")
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
        """Returns 'hit', 'nil' or 'err'."""
        line = self._line()
        if line[:1] == b"$":
            n = int(line[1:])
            if n < 0:
                return "nil"
            while len(self.buf) - self.pos < n + 2:
                self._fill()
            self.pos += n + 2
            return "hit"
        return "err"


def resp_get(port, first, end):
    s = connect(port)
    r, counts = Reader(s), {"hit": 0, "nil": 0, "err": 0}
    for lo in range(first, end, BATCH):
        hi = min(end, lo + BATCH)
        s.sendall(b"".join(resp_cmd(b"GET", key(i).encode())
                           for i in range(lo, hi)))
        for _ in range(hi - lo):
            counts[r.reply()] += 1
    s.close()
    print(counts["hit"], counts["nil"], counts["err"])


def http_get(port, prefix, suffix, first, end):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    ok = other = 0
    for i in range(first, end):
        c.request("GET", prefix + key(i) + suffix)
        resp = c.getresponse()
        resp.read()
        if resp.status == 200:
            ok += 1
        else:
            other += 1
    c.close()
    print(ok, other)


def files(d, first, end, size):
    val = value(size)
    for i in range(first, end):
        with open(os.path.join(d, key(i)), "wb") as f:
            f.write(val)


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, a = argv[1], argv[2:]
    if cmd == "ports":
        free_ports(int(a[0]))
    elif cmd == "load":
        load(int(a[0]), int(a[1]), int(a[2]), int(a[3]))
    elif cmd == "resp-get":
        resp_get(int(a[0]), int(a[1]), int(a[2]))
    elif cmd == "http-get":
        http_get(int(a[0]), a[1], a[2], int(a[3]), int(a[4]))
    elif cmd == "files":
        files(a[0], int(a[1]), int(a[2]), int(a[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
