#!/usr/bin/env python3
"""Key loader and cache warmer for tools/bench.sh.

Keys are named the way redis-benchmark -r names them: "key:" followed by a
12-digit zero-padded number, so a redis-benchmark GET run and a wrk run with
tools/bench/rand.lua read exactly the keys loaded here. Every command below
is bounded: sockets time out, and a short reply is an error, not a hang.

  keys.py ports COUNT                    COUNT distinct free loopback TCP ports
  keys.py cluster-ports COUNT            COUNT free ports P <= 55535 with P + 10000
                                         free too (a cluster node's bus port)
  keys.py cluster-load PORT FIRST END SIZE [TAG...]
                                         SET key:<i> in the Redis Cluster that the
                                         node at PORT belongs to, each key on the
                                         master of its slot (CLUSTER SLOTS); with
                                         TAGs, key:{TAG}:<i> for each TAG instead
                                         (the names redis-benchmark --cluster uses)
  keys.py load PORT FIRST END SIZE       SET key:<i> = SIZE bytes, i in [FIRST, END)
  keys.py resp-get PORT FIRST END        GET every key once over RESP, pipelined;
                                         prints "hits nils errors"
  keys.py http-get PORT PREFIX SUFFIX FIRST END
                                         GET PREFIX<key>SUFFIX over keep-alive
                                         HTTP/1.1 connections; prints "ok other"

load, resp-get and http-get split the range over CONNS connections (env
KEYS_CONNS, default 8), one thread each, KEYS_BATCH (default 10000)
commands in flight per connection, so a server that answers a
connection's pipeline one request at a time is still filled in parallel.
  keys.py files DIR FIRST END SIZE       write DIR/key:<i> holding the value
"""
import os
import socket
import sys

BATCH = int(os.environ.get("KEYS_BATCH", "10000"))  # commands in flight
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


def cluster_ports(count):
    """Ports that a Redis Cluster node can use: the port and its bus port
    (port + 10000) both free, the port at most 55535."""
    import random
    socks, ports, tries = [], [], 0
    while len(ports) < count:
        tries += 1
        if tries > 10000:
            sys.exit("keys.py: no free cluster ports")
        p = random.randint(20000, 55535)
        if p in ports:
            continue
        pair = []
        for q in (p, p + 10000):
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", q))
                pair.append(s)
            except OSError:
                s.close()
                break
        if len(pair) == 2:
            socks += pair
            ports.append(p)
        else:
            for s in pair:
                s.close()
    for s in socks:
        s.close()
    print(" ".join(map(str, ports)))


def crc16(data):
    """CRC16-XMODEM, the hash behind Redis Cluster's key slots."""
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def key_slot(k):
    lo = k.find(b"{")
    if lo >= 0:
        hi = k.find(b"}", lo + 1)
        if hi > lo + 1:
            k = k[lo + 1:hi]
    return crc16(k) % 16384


def cluster_masters(port):
    """[(first slot, last slot, master port)] from CLUSTER SLOTS."""
    s = connect(port)
    s.sendall(resp_cmd(b"CLUSTER", b"SLOTS"))
    buf = b""
    while True:
        chunk = s.recv(1 << 20)
        if not chunk:
            raise RuntimeError("cluster-load: CLUSTER SLOTS: connection closed")
        buf += chunk
        try:
            value, _ = parse_resp(buf, 0)
            break
        except IndexError:
            continue
    s.close()
    return [(int(r[0]), int(r[1]), int(r[2][1])) for r in value]


def parse_resp(buf, pos):
    """One RESP2 value from buf at pos: (value, next pos); IndexError when
    buf holds only part of it."""
    nl = buf.find(b"\r\n", pos)
    if nl < 0:
        raise IndexError
    t, line = buf[pos:pos + 1], buf[pos + 1:nl]
    if t in (b"+", b"-"):
        return line.decode(), nl + 2
    if t == b":":
        return int(line), nl + 2
    if t == b"$":
        n = int(line)
        if n < 0:
            return None, nl + 2
        if len(buf) < nl + 2 + n + 2:
            raise IndexError
        return buf[nl + 2:nl + 2 + n].decode(), nl + 2 + n + 2
    if t == b"*":
        out, p = [], nl + 2
        for _ in range(int(line)):
            v, p = parse_resp(buf, p)
            out.append(v)
        return out, p
    raise RuntimeError("unexpected RESP type %r" % t)


def cluster_load(port, first, end, size, tags):
    ranges = cluster_masters(port)
    by_master = {}
    names = ([key(i) for i in range(first, end)] if not tags else
             ["key:{%s}:%012d" % (t, i) for t in tags
              for i in range(first, end)])
    for name in names:
        k = name.encode()
        slot = key_slot(k)
        for lo, hi, p in ranges:
            if lo <= slot <= hi:
                by_master.setdefault(p, []).append(k)
                break
        else:
            sys.exit("keys.py: slot %d of %s has no master" % (slot, name))
    for p, ks in sorted(by_master.items()):
        load_list(p, ks, size)


def load_list(port, ks, size):
    s, val = connect(port), value(size)
    for lo in range(0, len(ks), BATCH):
        part = ks[lo:lo + BATCH]
        s.sendall(b"".join(resp_cmd(b"SET", k, val) for k in part))
        got = bytearray()
        while got.count(b"\n") < len(part):
            chunk = s.recv(1 << 20)
            if not chunk:
                raise RuntimeError("cluster-load: connection closed")
            got += chunk
        if got.count(b"+OK\r\n") != len(part):
            raise RuntimeError("cluster-load: unexpected reply: %r"
                               % bytes(got[:200]))
    s.close()


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
    elif cmd == "cluster-ports" and len(a) == 1:
        cluster_ports(int(a[0]))
    elif cmd == "cluster-load" and len(a) >= 4:
        cluster_load(int(a[0]), int(a[1]), int(a[2]), int(a[3]), a[4:])
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
