// The dashboard browser test's own machinery (dashboard.test.mjs runs the
// checks): where things are, the run's state and its checks' counts,
// processes (servers and one-shot tools) on free loopback ports, RESP and
// HTTP clients, and the cleanup that leaves no child process and no
// temporary directory behind, however the run ends.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const PROXY_BIN = path.resolve(ROOT, process.env.PROXY_BIN || 'build/redis-proxy');
export const CHROMIUM_BIN = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
export const REDIS_SERVER = process.env.REDIS_SERVER || 'redis-server';
export const REDIS_CLI = process.env.REDIS_CLI || 'redis-cli';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu',
                              '--disable-background-networking', '--disable-quic',
                              '--no-first-run', '--disable-component-update',
                              '--disable-sync'];

// The run: its temporary directory and browser (both cleaned up by
// stopAll), and how many checks passed and failed.
export const state = { tmp: null, browser: null, passed: 0, failed: 0 };
const children = [];

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function log(msg) {
    process.stdout.write(msg + '\n');
}

export async function check(name, fn) {
    try {
        await fn();
        state.passed++;
        log(`ok   ${name}`);
    } catch (e) {
        state.failed++;
        log(`FAIL ${name}: ${e && e.message ? e.message : e}`);
    }
}

export function assert(cond, msg) {
    if (!cond) {
        throw new Error(msg);
    }
}

export function assertEq(actual, expected, what) {
    assert(actual === expected,
           `${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

// Free loopback ports: all bound at once so none repeats, then released.
export async function freePorts(n) {
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

export function start(name, cmd, args, logFile) {
    const out = fs.openSync(logFile, 'w');
    const child = spawn(cmd, args, { stdio: ['ignore', out, out] });
    fs.closeSync(out);
    child.label = name;
    child.logFile = logFile;
    child.exited = false;
    child.on('exit', () => { child.exited = true; });
    child.on('error', (e) => {
        child.exited = true;
        child.spawnError = e;
    });
    children.push(child);
    return child;
}

// Runs a command to its end; resolves with its exit code and output. The
// child is tracked like the servers, so stopAll() ends it if it hangs.
export function runTool(name, cmd, args, timeoutMs = 20_000) {
    return new Promise((resolve, reject) => {
        const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.label = name;
        child.exited = false;
        children.push(child);
        child.stdout.on('data', (d) => { out += d; });
        child.stderr.on('data', (d) => { out += d; });
        const timer = setTimeout(() => {
            child.kill('SIGKILL');
            reject(new Error(`${name}: over ${timeoutMs} ms\n${out}`));
        }, timeoutMs);
        child.on('error', (e) => {
            child.exited = true;
            clearTimeout(timer);
            reject(e);
        });
        child.on('close', (code) => {
            child.exited = true;
            clearTimeout(timer);
            resolve({ code, out });
        });
    });
}

// Sends sig to child and waits for it to exit.
export async function stopChild(child, sig = 'SIGTERM') {
    if (!child.exited) {
        child.kill(sig);
    }
    const deadline = Date.now() + 5000;
    while (!child.exited) {
        assert(Date.now() < deadline, `${child.label} did not exit on ${sig}`);
        await sleep(20);
    }
}

function logTail(child, lines = 20) {
    try {
        const text = fs.readFileSync(child.logFile, 'utf8').trimEnd().split('\n');
        return text.slice(-lines).map((l) => `    ${child.label}| ${l}`).join('\n');
    } catch {
        return '';
    }
}

// One RESP command on a fresh connection; resolves with the first reply line.
export function redisCommand(port, ...args) {
    return new Promise((resolve, reject) => {
        const sock = net.connect(port, '127.0.0.1');
        let buf = '';
        sock.setTimeout(2000, () => sock.destroy(new Error('redis: timeout')));
        sock.on('error', reject);
        sock.on('connect', () => sock.write(resp(...args)));
        sock.on('data', (d) => {
            buf += d.toString('utf8');
            const end = buf.indexOf('\r\n');
            if (end >= 0) {
                sock.end();
                const line = buf.slice(0, end);
                if (line[0] === '-') {
                    reject(new Error(`redis: ${line}`));
                } else {
                    resolve(line);
                }
            }
        });
    });
}

// The RESP array form of a command.
export function resp(...args) {
    let cmd = `*${args.length}\r\n`;
    for (const a of args) {
        cmd += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
    }
    return cmd;
}

// A RESP connection kept open: send() raw bytes, line() the next reply line.
export function respConn(port) {
    return new Promise((resolve, reject) => {
        const sock = net.connect(port, '127.0.0.1');
        const waiting = [];
        let buf = '';
        let failure = null;
        const pump = () => {
            while (waiting.length > 0) {
                const end = buf.indexOf('\r\n');
                if (end < 0) {
                    if (failure) {
                        const w = waiting.shift();
                        clearTimeout(w.timer);
                        w.reject(failure);
                        continue;
                    }
                    return;
                }
                const w = waiting.shift();
                clearTimeout(w.timer);
                w.resolve(buf.slice(0, end));
                buf = buf.slice(end + 2);
            }
        };
        sock.on('data', (d) => {
            buf += d.toString('utf8');
            pump();
        });
        sock.on('error', (e) => {
            failure = e;
            reject(e);
            pump();
        });
        sock.on('close', () => {
            failure = failure || new Error('RESP connection closed');
            pump();
        });
        sock.on('connect', () => resolve({
            send: (bytes) => sock.write(bytes),
            line: () => new Promise((res, rej) => {
                const w = { resolve: res, reject: rej };
                w.timer = setTimeout(() => {
                    waiting.splice(waiting.indexOf(w), 1);
                    rej(new Error('RESP: no reply'));
                }, 3000);
                waiting.push(w);
                pump();
            }),
            close: () => new Promise((res) => {
                if (sock.destroyed) {
                    res();
                    return;
                }
                sock.once('close', res);
                sock.end();
            }),
        }));
    });
}

// One command on a fresh connection to a proxy's RESP port; the first line.
export async function respOnce(port, ...args) {
    const c = await respConn(port);
    try {
        c.send(resp(...args));
        return await c.line();
    } finally {
        await c.close();
    }
}

export const basic = (user, password) =>
    'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');

// fetch() with a timeout and, when given, an Authorization header.
export async function get(url, auth, init = {}) {
    const headers = auth ? { Authorization: auth } : {};
    const r = await fetch(url, { ...init, headers,
                                 signal: AbortSignal.timeout(3000) });
    return { status: r.status, headers: r.headers, body: await r.text() };
}

// GET /stats.json on an admin port (with an Authorization header when
// given), parsed.
export async function statsJson(port, auth) {
    const headers = auth ? { Authorization: auth } : {};
    return (await fetch(`http://127.0.0.1:${port}/stats.json`, { headers })).json();
}

export async function waitFor(what, child, fn, timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    let lastErr = null;
    while (Date.now() < deadline) {
        if (child.exited) {
            throw new Error(`${child.label} exited early` +
                (child.spawnError ? `: ${child.spawnError.message}` : '') +
                `\n${logTail(child)}`);
        }
        try {
            if (await fn()) {
                return;
            }
        } catch (e) {
            lastErr = e;
        }
        await sleep(100);
    }
    throw new Error(`timed out waiting for ${what}` +
        (lastErr ? ` (${lastErr.message})` : '') + `\n${logTail(child)}`);
}

export async function stopAll() {
    if (state.browser) {
        const b = state.browser;
        state.browser = null;
        await Promise.race([b.close().catch(() => {}), sleep(5000)]);
    }
    for (const c of children) {
        if (!c.exited) {
            c.kill('SIGTERM');
        }
    }
    const deadline = Date.now() + 3000;
    while (children.some((c) => !c.exited) && Date.now() < deadline) {
        await sleep(50);
    }
    for (const c of children) {
        if (!c.exited) {
            c.kill('SIGKILL');
        }
    }
    if (state.tmp) {
        fs.rmSync(state.tmp, { recursive: true, force: true });
        state.tmp = null;
    }
}

// Last resort (an uncaught error, a signal, the watchdog): no child outlives us.
process.on('exit', () => {
    for (const c of children) {
        if (!c.exited) {
            try { c.kill('SIGKILL'); } catch { /* already gone */ }
        }
    }
    if (state.tmp) {
        fs.rmSync(state.tmp, { recursive: true, force: true });
    }
});
for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => {
        log(`browser: interrupted by ${sig}`);
        process.exit(1);
    });
}

// Writes the ini, starts a proxy and waits for its /readyz.
export async function startProxy(name, lines, adminPort) {
    const ini = path.join(state.tmp, `${name}.ini`);
    fs.writeFileSync(ini, lines.join('\n') + '\n');
    const proxy = start(name, PROXY_BIN, ['-c', ini],
                        path.join(state.tmp, `${name}.log`));
    await waitFor(`${name} /readyz`, proxy, async () => {
        const r = await fetch(`http://127.0.0.1:${adminPort}/readyz`);
        await r.text();
        return r.status === 200;
    });
}

// A redis-server on port, its data and log in the run's directory.
export function startRedis(port) {
    return start('redis', REDIS_SERVER, [
        '--bind', '127.0.0.1', '--port', String(port), '--save', '',
        '--appendonly', 'no', '--dir', state.tmp,
    ], path.join(state.tmp, 'redis.log'));
}
