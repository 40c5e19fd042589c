// node-redis 5 (the `redis` package, pinned in package-lock.json) through
// the proxy's tls_port (make test-clients): a redis-server and a proxy on
// free loopback ports, test certificates from tools/tls-certs.sh in a
// temporary directory; every child and the directory are gone at the end,
// however the run ends. Checks: PING; a SET forwarded to Redis (read back
// from Redis itself); GET from the cache (the proxy's hit counter moves,
// Redis's GET count does not); a transaction and a pipeline; a client
// trusting another CA refused.
//
// node-redis 5 sends `CLIENT SETINFO LIB-VER/LIB-NAME` on connect, and
// 5.8 and later `CLIENT MAINT_NOTIFICATIONS ON ...` (Redis Enterprise's
// maintenance events). A CLIENT subcommand the proxy does not answer
// itself gives the client a session (a private Redis connection, where
// GET is not cached), which is what this build does with both. The cache
// check turns both off (disableClientInfo, maintNotifications:
// 'disabled'); the other checks use the library's defaults.
// Prints one line per check and exits 1 if any failed.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PROXY_BIN = path.resolve(ROOT, process.env.PROXY_BIN || 'build/redis-proxy');
const children = [];
let tmp = null;
let passed = 0;
let failed = 0;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function assert(cond, msg) {
    if (!cond) {
        throw new Error(msg);
    }
}

function assertEq(actual, expected, what) {
    assert(actual === expected,
           `${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

async function check(name, fn) {
    try {
        await fn();
        passed++;
        console.log(`ok   ${name}`);
    } catch (e) {
        failed++;
        console.log(`FAIL ${name}: ${e && e.message ? e.message : e}`);
    }
}

// Free loopback ports: all bound at once so none repeats, then released.
async function freePorts(n) {
    const servers = [];
    for (let i = 0; i < n; i++) {
        const s = net.createServer();
        await new Promise((res, rej) => {
            s.once('error', rej);
            s.listen(0, '127.0.0.1', res);
        });
        servers.push(s);
    }
    const ports = servers.map((s) => s.address().port);
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    return ports;
}

function start(name, cmd, args) {
    const logFile = path.join(tmp, `${name}.log`);
    const out = fs.openSync(logFile, 'w');
    const child = spawn(cmd, args, { stdio: ['ignore', out, out] });
    fs.closeSync(out);
    child.label = name;
    child.logFile = logFile;
    child.exited = false;
    child.on('exit', () => { child.exited = true; });
    children.push(child);
    return child;
}

// Waits until something accepts on port (the child still running).
async function listening(child, port) {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
        assert(!child.exited, `${child.label} exited:\n${fs.readFileSync(child.logFile, 'utf8')}`);
        const ok = await new Promise((res) => {
            const s = net.connect(port, '127.0.0.1');
            s.on('connect', () => { s.destroy(); res(true); });
            s.on('error', () => res(false));
        });
        if (ok) {
            return;
        }
        await sleep(50);
    }
    throw new Error(`${child.label} does not listen on ${port}`);
}

async function stopAll() {
    for (const c of children.reverse()) {
        if (!c.exited) {
            c.kill('SIGTERM');
        }
    }
    const deadline = Date.now() + 5000;
    for (const c of children) {
        while (!c.exited && Date.now() < deadline) {
            await sleep(20);
        }
        if (!c.exited) {
            c.kill('SIGKILL');
        }
    }
    if (tmp) {
        fs.rmSync(tmp, { recursive: true, force: true });
    }
}

// A plain connection to redis-server: one command, its first reply line.
function redisLine(port, ...args) {
    return new Promise((resolve, reject) => {
        const sock = net.connect(port, '127.0.0.1');
        let buf = '';
        let cmd = `*${args.length}\r\n`;
        for (const a of args) {
            cmd += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
        }
        sock.setTimeout(3000, () => sock.destroy(new Error('redis: timeout')));
        sock.on('error', reject);
        sock.on('connect', () => sock.write(cmd));
        sock.on('data', (d) => {
            buf += d.toString('utf8');
            const ends = buf.split('\r\n');
            // a bulk reply: "$N" then the value
            if (buf[0] === '$' && ends.length >= 3 && buf !== '$-1\r\n') {
                sock.end();
                resolve(ends[1]);
            } else if (buf[0] !== '$' || buf === '$-1\r\n') {
                if (buf.includes('\r\n')) {
                    sock.end();
                    resolve(ends[0]);
                }
            }
        });
    });
}

async function redisGetCalls(port) {
    const info = await new Promise((resolve, reject) => {
        const sock = net.connect(port, '127.0.0.1');
        let buf = '';
        sock.setTimeout(3000, () => sock.destroy(new Error('INFO: timeout')));
        sock.on('error', reject);
        sock.on('connect', () => sock.write('INFO commandstats\r\n'));
        sock.on('data', (d) => {
            buf += d.toString('utf8');
            const m = /^\$(\d+)\r\n/.exec(buf);
            if (m && Buffer.byteLength(buf) >= m[0].length + Number(m[1])) {
                sock.end();
                resolve(buf);
            }
        });
    });
    const m = /cmdstat_get:calls=(\d+)/.exec(info);
    return m ? Number(m[1]) : 0;
}

async function metric(adminPort, series) {
    const r = await fetch(`http://127.0.0.1:${adminPort}/metrics`,
                          { signal: AbortSignal.timeout(3000) });
    const text = await r.text();
    for (const line of text.split('\n')) {
        if (line.startsWith(series + ' ')) {
            return Number(line.slice(series.length + 1));
        }
    }
    return NaN;
}

function client(port, opts = {}) {
    const c = createClient({
        socket: {
            host: 'localhost',
            port,
            tls: true,
            ca: fs.readFileSync(path.join(tmp, opts.ca || 'ca.crt')),
            connectTimeout: 3000,
            reconnectStrategy: false,
        },
        ...(opts.plain ? { maintNotifications: 'disabled',
                           disableClientInfo: true } : {}),
    });
    c.on('error', () => {}); // reported by the awaited calls
    return c;
}

async function main() {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rp-clients-'));
    const certs = spawnSync('bash', [path.join(ROOT, 'tools/tls-certs.sh'), tmp],
                            { encoding: 'utf8' });
    assert(certs.status === 0, `tls-certs.sh: ${certs.stderr}`);
    const [redisPort, httpPort, respPort, tlsPort, adminPort] = await freePorts(5);
    const redis = start('redis', 'redis-server',
                        ['--port', String(redisPort), '--bind', '127.0.0.1',
                         '--save', '', '--appendonly', 'no', '--dir', tmp]);
    await listening(redis, redisPort);
    fs.writeFileSync(path.join(tmp, 'proxy.ini'), [
        '[server]', 'bind = 127.0.0.1', `http_port = ${httpPort}`,
        `resp_port = ${respPort}`, `tls_port = ${tlsPort}`,
        `tls_cert_file = ${path.join(tmp, 'server.crt')}`,
        `tls_key_file = ${path.join(tmp, 'server.key')}`,
        '[redis]', 'host = 127.0.0.1', `port = ${redisPort}`,
        '[admin]', `port = ${adminPort}`, ''].join('\n'));
    const proxy = start('proxy', PROXY_BIN, ['-c', path.join(tmp, 'proxy.ini')]);
    await listening(proxy, tlsPort);
    await listening(proxy, adminPort);

    const c = client(tlsPort);
    await c.connect();

    await check('PING over TLS', async () => {
        assertEq(await c.ping(), 'PONG', 'PING');
    });

    await check('SET is forwarded to Redis', async () => {
        assertEq(await c.set('node:k', 'from node over tls'), 'OK', 'SET');
        assertEq(await redisLine(redisPort, 'GET', 'node:k'), 'from node over tls',
                 'the value in Redis');
    });

    await check('GET is answered from the cache', async () => {
        const c = client(tlsPort, { plain: true });
        await c.connect();
        assertEq(await c.get('node:k'), 'from node over tls', 'first GET');
        const hits = await metric(adminPort, 'redis_proxy_cache_hits_total');
        const calls = await redisGetCalls(redisPort);
        assertEq(await c.get('node:k'), 'from node over tls', 'second GET');
        // The counter moves just after the reply is written.
        let now = NaN;
        for (const end = Date.now() + 3000; Date.now() < end; await sleep(20)) {
            now = await metric(adminPort, 'redis_proxy_cache_hits_total');
            if (now === hits + 1) {
                break;
            }
        }
        assertEq(now, hits + 1, 'cache hits');
        assertEq(await redisGetCalls(redisPort), calls, 'GETs Redis saw');
        await c.close();
    });

    await check('a pipeline and a transaction', async () => {
        const replies = await c.multi()
            .set('node:a', '1').incr('node:a').get('node:a').exec();
        assertEq(JSON.stringify(replies), JSON.stringify(['OK', 2, '2']), 'MULTI');
        const [a, b] = await Promise.all([c.get('node:a'), c.get('node:missing')]);
        assertEq(a, '2', 'pipelined GET');
        assertEq(b, null, 'pipelined GET of a missing key');
    });

    await check('a client trusting another CA is refused', async () => {
        const bad = client(tlsPort, { ca: 'other-ca.crt' });
        let error = null;
        try {
            await bad.connect();
        } catch (e) {
            error = e;
        }
        assert(error !== null, 'connected although the CA is not the one that signed');
        assert(/certificate/i.test(String(error && error.message)),
               `unexpected error ${error && error.message}`);
        if (bad.isOpen) {
            await bad.close();
        }
    });

    await c.close();
    await check('the proxy exits 0 on SIGTERM', async () => {
        proxy.kill('SIGTERM');
        const deadline = Date.now() + 5000;
        while (!proxy.exited && Date.now() < deadline) {
            await sleep(20);
        }
        assertEq(proxy.exitCode, 0, 'exit status');
    });
}

try {
    await main();
} catch (e) {
    failed++;
    console.log(`FAIL setup: ${e && e.stack ? e.stack : e}`);
} finally {
    await stopAll();
}
console.log(`clients: ${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
