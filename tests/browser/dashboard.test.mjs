// Browser test of the admin dashboard (src/serve/dashboard.html) in Debian's
// headless Chromium, driven by playwright-core.
//
// Starts its own redis-server and two proxies on free loopback ports: A with
// [http] writes = on and no password, B with [server] password set and writes
// off. On A it loads the dashboard, sends traffic to the data port and checks
// that the page shows it, uses the key lookup (GET /key/<key> on the admin
// port) and the set and delete controls, opens a RESP session and sends a
// keyless write, and saves a screenshot to build/dashboard.png and
// docs/dashboard.png. On B it checks that the page is refused without
// credentials, works with them (Playwright's httpCredentials), hides the
// write controls, and counts wrong passwords. The Redis nodes table: A's
// one node (address, 0-16383, stream up), then, with that Redis killed,
// the stream down with its reason and the node unreachable, and both back
// once Redis is restarted. Last, a 3-master Redis Cluster (redis-server
// --cluster-enabled, redis-cli --cluster create) behind proxy C with
// [redis] cluster = on: three rows whose ranges cover 0-16383 once each,
// and a killed master marked down in its row alone; skipped (and said so)
// without redis-cli or with a redis-server older than 7 (no cluster-port).
// Prints "browser: N passed, M failed" and exits non-zero on any failure.
// Every process it starts is stopped, and its temporary directory removed.
// The cluster's nodes table, one master down, is saved to
// build/dashboard-cluster-nodes.png.
//
// Usage: node tests/browser/dashboard.test.mjs
//   PROXY_BIN     proxy binary (default build/redis-proxy)
//   CHROMIUM_BIN  browser (default /usr/bin/chromium)
//   REDIS_SERVER  redis-server (default: the one on PATH)
//   REDIS_CLI     redis-cli, for the cluster case (default: the one on PATH)
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PROXY_BIN = path.resolve(ROOT, process.env.PROXY_BIN || 'build/redis-proxy');
const CHROMIUM_BIN = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const REDIS_SERVER = process.env.REDIS_SERVER || 'redis-server';
const REDIS_CLI = process.env.REDIS_CLI || 'redis-cli';
const TOTAL_TIMEOUT_MS = 150_000;
const SLOTS = 16384;
const SHOTS = [path.join(ROOT, 'build/dashboard.png'),
               path.join(ROOT, 'docs/dashboard.png')];

const children = [];
let tmp = null;
let browser = null;
let passed = 0;
let failed = 0;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function log(msg) {
    process.stdout.write(msg + '\n');
}

async function check(name, fn) {
    try {
        await fn();
        passed++;
        log(`ok   ${name}`);
    } catch (e) {
        failed++;
        log(`FAIL ${name}: ${e && e.message ? e.message : e}`);
    }
}

function assert(cond, msg) {
    if (!cond) {
        throw new Error(msg);
    }
}

function assertEq(actual, expected, what) {
    assert(actual === expected,
           `${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
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

function start(name, cmd, args, logFile) {
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
function runTool(name, cmd, args, timeoutMs = 20_000) {
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
async function stopChild(child, sig = 'SIGTERM') {
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
function redisCommand(port, ...args) {
    return new Promise((resolve, reject) => {
        const sock = net.connect(port, '127.0.0.1');
        let buf = '';
        sock.setTimeout(2000, () => sock.destroy(new Error('redis: timeout')));
        sock.on('error', reject);
        sock.on('connect', () => {
            let cmd = `*${args.length}\r\n`;
            for (const a of args) {
                cmd += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
            }
            sock.write(cmd);
        });
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
function resp(...args) {
    let cmd = `*${args.length}\r\n`;
    for (const a of args) {
        cmd += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
    }
    return cmd;
}

// A RESP connection kept open: send() raw bytes, line() the next reply line.
function respConn(port) {
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
async function respOnce(port, ...args) {
    const c = await respConn(port);
    try {
        c.send(resp(...args));
        return await c.line();
    } finally {
        await c.close();
    }
}

const basic = (user, password) =>
    'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');

// fetch() with a timeout and, when given, an Authorization header.
async function get(url, auth, init = {}) {
    const headers = auth ? { Authorization: auth } : {};
    const r = await fetch(url, { ...init, headers,
                                 signal: AbortSignal.timeout(3000) });
    return { status: r.status, headers: r.headers, body: await r.text() };
}

async function waitFor(what, child, fn, timeoutMs = 10_000) {
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

async function stopAll() {
    if (browser) {
        const b = browser;
        browser = null;
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
    if (tmp) {
        fs.rmSync(tmp, { recursive: true, force: true });
        tmp = null;
    }
}

// Last resort (an uncaught error, a signal, the watchdog): no child outlives us.
process.on('exit', () => {
    for (const c of children) {
        if (!c.exited) {
            try { c.kill('SIGKILL'); } catch { /* already gone */ }
        }
    }
    if (tmp) {
        fs.rmSync(tmp, { recursive: true, force: true });
    }
});
for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => {
        log(`browser: interrupted by ${sig}`);
        process.exit(1);
    });
}

// A small deterministic PRNG, so the traffic (and so the hit count) is fixed.
function lcg(seed) {
    let s = seed >>> 0;
    return () => {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        return s / 2 ** 32;
    };
}

const text = (page, sel) => page.locator(sel).textContent({ timeout: 5000 });
const toInt = (s) => Number(String(s).replace(/,/g, ''));

async function waitText(page, sel, pred, what, timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs;
    let last;
    while (Date.now() < deadline) {
        last = await text(page, sel);
        if (pred(last)) {
            return last;
        }
        await sleep(100);
    }
    throw new Error(`${what}: ${sel} still shows ${JSON.stringify(last)}`);
}

// Types key into the lookup box, clicks, and waits for the answer.
async function lookup(page, key) {
    const seq = () => page.locator('#lookup-meta').getAttribute('data-seq');
    const before = await seq();
    await page.fill('#lookup-key', key);
    await page.click('#lookup-go');
    const deadline = Date.now() + 6000;
    while ((await seq()) === before) {
        assert(Date.now() < deadline, `no answer to the lookup of ${key}`);
        await sleep(50);
    }
    return {
        status: await text(page, '#lookup-status'),
        xcache: await text(page, '#lookup-xcache'),
        value: await text(page, '#lookup-value'),
        url: await text(page, '#lookup-url'),
    };
}

// Fills key (and value and expiry for Set), clicks button (#write-set or
// #write-del) and waits for the status line.
async function write(page, button, key, value = '', ex = '') {
    const seq = () => page.locator('#write-status').getAttribute('data-seq');
    const before = await seq();
    await page.fill('#lookup-key', key);
    await page.fill('#write-value', value);
    await page.fill('#write-ex', ex);
    await page.click(button);
    const deadline = Date.now() + 6000;
    while ((await seq()) === before) {
        assert(Date.now() < deadline, `no answer to ${button} of ${key}`);
        await sleep(50);
    }
    return text(page, '#write-status');
}

// The dashboard's figures come from one /stats.json sample a second: waits
// for the page to show want in sel.
const waitShows = (page, sel, want, what) =>
    waitText(page, sel, (t) => t === want, `${what} should show ${want}`);

// The nodes table as the page shows it: one object per row, in order.
const nodeRows = (page) => page.locator('#nodes-body tr').evaluateAll((trs) =>
    trs.map((tr) => {
        const t = (sel) => tr.querySelector(sel).textContent;
        const reason = tr.querySelector('.n-stream .reason');
        return {
            key: tr.dataset.addr, addr: t('.n-addr'), role: t('.n-role'),
            slots: t('.n-slots'), ranges: t('.n-ranges'),
            pool: t('.n-pool-state .pill'), stream: t('.n-stream .pill'),
            reason: reason.hidden ? null : reason.textContent,
            reasonColor: getComputedStyle(reason).color,
            inUse: t('.n-pool'), connected: t('.n-connected'),
            errors: t('.n-errors'), down: tr.classList.contains('down'),
            bg: getComputedStyle(tr.querySelector('td')).backgroundColor,
        };
    }));

// Polls the nodes table until pred(rows) holds; returns those rows.
async function waitNodes(page, pred, what, timeoutMs = 8000) {
    const deadline = Date.now() + timeoutMs;
    let rows;
    while (Date.now() < deadline) {
        rows = await nodeRows(page);
        if (pred(rows)) {
            return rows;
        }
        await sleep(100);
    }
    throw new Error(`${what}: the nodes table shows ${JSON.stringify(rows)}`);
}

// "0-5460, 10923" -> [[0, 5460], [10923, 10923]]; "–" (no slots) -> [].
function parseRanges(text) {
    if (text === '\u2013') {
        return [];
    }
    return text.split(/,\s*/).map((r) => {
        const m = /^(\d+)(?:-(\d+))?$/.exec(r);
        assert(m !== null, `range ${JSON.stringify(r)} in ${JSON.stringify(text)}`);
        return [Number(m[1]), Number(m[2] === undefined ? m[1] : m[2])];
    });
}

const REDIS_BG_DOWN = 'rgb(254, 242, 242)';
const RED = 'rgb(185, 28, 28)';

// Writes the ini, starts a proxy and waits for its /readyz.
async function startProxy(name, lines, adminPort) {
    const ini = path.join(tmp, `${name}.ini`);
    fs.writeFileSync(ini, lines.join('\n') + '\n');
    const proxy = start(name, PROXY_BIN, ['-c', ini],
                        path.join(tmp, `${name}.log`));
    await waitFor(`${name} /readyz`, proxy, async () => {
        const r = await fetch(`http://127.0.0.1:${adminPort}/readyz`);
        await r.text();
        return r.status === 200;
    });
}

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu',
                       '--disable-background-networking', '--disable-quic',
                       '--no-first-run', '--disable-component-update',
                       '--disable-sync'];
const PASSWORD = 'dashboard-secret';

let redisPort, httpPort, respPort, adminPort, bHttp, bResp, bAdmin;
let redis = null;

function startRedis() {
    return start('redis', REDIS_SERVER, [
        '--bind', '127.0.0.1', '--port', String(redisPort), '--save', '',
        '--appendonly', 'no', '--dir', tmp,
    ], path.join(tmp, 'redis.log'));
}

async function run() {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rp-browser-'));
    [redisPort, httpPort, respPort, adminPort, bHttp, bResp, bAdmin] =
        await freePorts(7);
    const keys = {};
    for (let i = 0; i < 30; i++) {
        keys[`item:${i}`] = `value of item ${i} `.repeat(1 + (i % 4)).trim();
    }
    keys['greeting/ü ?&'] = 'hello, wörld';
    keys['html'] = '<img src=x onerror="window.__xss=1"><b>not markup</b>';
    keys['big'] = 'x'.repeat(5000);
    keys['big:1'] = '1'.repeat(5000);
    keys['big:2'] = '2'.repeat(5000);

    let setupOk = false;
    await check('redis-server and proxy start', async () => {
        assert(fs.existsSync(PROXY_BIN), `no proxy binary at ${PROXY_BIN}`);
        redis = startRedis();
        await waitFor('redis PING', redis,
                      async () => (await redisCommand(redisPort, 'PING')) === '+PONG');
        for (const [k, v] of Object.entries(keys)) {
            await redisCommand(redisPort, 'SET', k, v);
        }
        // A: writes on, no password.
        await startProxy('proxy-a', [
            '[server]', 'bind = 127.0.0.1', `http_port = ${httpPort}`,
            `resp_port = ${respPort}`, 'workers = 4',
            '[redis]', 'host = 127.0.0.1', `port = ${redisPort}`,
            '[cache]', 'ttl = 5m', 'capacity = 1000', 'max_memory = 64kb',
            'tracking = on',
            '[http]', 'writes = on',
            '[admin]', `port = ${adminPort}`,
            '[log]', 'level = info',
        ], adminPort);
        // B: a password, writes off (the default), a small cache.
        await startProxy('proxy-b', [
            '[server]', 'bind = 127.0.0.1', `http_port = ${bHttp}`,
            `resp_port = ${bResp}`, 'workers = 2', `password = ${PASSWORD}`,
            '[redis]', 'host = 127.0.0.1', `port = ${redisPort}`,
            '[cache]', 'ttl = 5m', 'capacity = 2', 'max_memory = 8kb',
            'tracking = on',
            '[admin]', `port = ${bAdmin}`,
            '[log]', 'level = info',
        ], bAdmin);
        setupOk = true;
    });
    if (!setupOk) {
        return;
    }

    let page = null;
    const pageErrors = [];
    await check('dashboard loads in Chromium', async () => {
        browser = await chromium.launch({
            executablePath: CHROMIUM_BIN,
            args: CHROMIUM_ARGS,
            timeout: 20_000,
        });
        page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
        page.on('pageerror', (e) => pageErrors.push(e.message));
        const res = await page.goto(`http://127.0.0.1:${adminPort}/`,
                                    { timeout: 10_000 });
        assertEq(res.status(), 200, 'GET / status');
        assertEq(await page.title(), 'redis-proxy dashboard', 'title');
        assert(await page.locator('script[src], link[href], img[src]').count() === 0,
               'the page loads external resources');
    });
    if (page === null) {
        return;
    }

    await check('first sample renders numbers', async () => {
        await page.waitForFunction(
            () => document.getElementById('live').textContent === 'live',
            null, { timeout: 5000 });
        assertEq(await text(page, '#entries'), '0', '#entries');
        assertEq(await text(page, '#capacity'), '1,000', '#capacity');
        assertEq(await text(page, '#hits'), '0', '#hits');
        assertEq(await text(page, '#redis-status'), 'reachable', '#redis-status');
        assertEq(await text(page, '#tracking'), 'up', '#tracking');
        assertEq(await text(page, '#pool'), '0 / 8', '#pool (in use / size)');
        assertEq(await text(page, '#workers-total'), '4', '#workers-total');
        assertEq(await text(page, '#cfg-ports'), `${httpPort} / ${respPort}`,
                 '#cfg-ports');
        assertEq(await text(page, '#memory-max'), '64.0 KiB', '#memory-max');
        assertEq(await text(page, '#sessions-open'), '0', '#sessions-open');
        assertEq(await text(page, '#sessions-max'), '256', '#sessions-max');
        assertEq(await text(page, '#auth-failures'), '0', '#auth-failures');
        assertEq(await text(page, '#auth-split'), '0 / 0 / 0', '#auth-split');
        assertEq(await text(page, '#cfg-password'), 'none', '#cfg-password');
        assertEq(await text(page, '#cfg-writes'), 'on', '#cfg-writes');
        assert(await page.locator('#write-set').isVisible() &&
               await page.locator('#write-del').isVisible() &&
               await page.locator('#write-value').isVisible(),
               'write controls not shown with writes on');
        assert(/^\d+s$/.test(await text(page, '#uptime')), 'uptime not shown');
        assert(!(await page.locator('#lookup-go').isDisabled()),
               'lookup button still disabled');
        // The rate needs two samples.
        await waitText(page, '#req-rate', (t) => t === '0.0', 'idle request rate');
    });

    const nodeAddr = `127.0.0.1:${redisPort}`;
    await check('Redis nodes: the standalone node, its slots and stream', async () => {
        const rows = await waitNodes(page, (r) => r.length === 1 &&
                                     r[0].connected !== '', 'one node');
        const n = rows[0];
        assertEq(n.key, nodeAddr, 'row data-addr');
        assertEq(n.addr, nodeAddr, 'address');
        assertEq(n.role, 'master', 'role');
        assertEq(n.slots, '16,384', 'slots');
        assertEq(n.ranges, '0-16383', 'ranges');
        assertEq(n.stream, 'up', 'invalidation stream');
        assertEq(n.reason, null, 'reason shown while up');
        assertEq(n.pool, 'reachable', 'pool state');
        assertEq(n.inUse, '0 / 8', 'pool in use / size');
        assertEq(n.errors, '0', 'errors');
        assertEq(n.down, false, 'row marked down');
        assertEq(await text(page, '#nodes-summary'),
                 '\u00b7 1 node, 16,384 of 16,384 slots, 1 of 1 streams up',
                 '#nodes-summary');
        assert(await page.locator('#nodes-empty').isHidden(),
               '"no node" note shown');
    });

    // ~65 requests over ~6.5 s, keys drawn from 30, so the ratio climbs as
    // the cache warms. Every first sight of a key is a miss, the rest hits.
    const rnd = lcg(42);
    const seen = new Set();
    let expectHits = 0;
    let maxRate = 0;
    await check('traffic shows up as request rate, hits and misses', async () => {
        let done = false;
        const watch = (async () => {
            while (!done) {
                const r = Number(await text(page, '#req-rate')) || 0;
                maxRate = Math.max(maxRate, r);
                await sleep(100);
            }
        })().catch((e) => e);
        try {
            for (let i = 0; i < 65; i++) {
                const k = `item:${Math.floor(rnd() * 30)}`;
                const url = `http://127.0.0.1:${httpPort}/${encodeURIComponent(k)}`;
                const r = await fetch(url, { signal: AbortSignal.timeout(3000) });
                assertEq(await r.text(), keys[k], `value of ${k}`);
                assertEq(r.headers.get('x-cache'), seen.has(k) ? 'HIT' : 'MISS',
                         `X-Cache of ${k}`);
                if (seen.has(k)) {
                    expectHits++;
                }
                seen.add(k);
                await sleep(100);
            }
            await sleep(1500); // one more sample after the last request
        } finally {
            done = true;
            const err = await watch;
            if (err instanceof Error) {
                throw err;
            }
        }
        // ~10 requests a second were sent; allow for slow machines.
        assert(maxRate >= 4, `request rate peaked at ${maxRate} req/s`);
        await waitText(page, '#hits', (t) => toInt(t) === expectHits,
                       `hits should reach ${expectHits}`);
        assertEq(toInt(await text(page, '#misses')), seen.size, '#misses');
        assertEq(toInt(await text(page, '#entries')), seen.size, '#entries');
        assertEq(await text(page, '#req-total'), '65', '#req-total');
        const ratio = (100 * expectHits / 65).toFixed(1) + '%';
        assertEq(await text(page, '#hit-ratio-total'), ratio, '#hit-ratio-total');
        assert(/^\d+\.\d%$/.test(await text(page, '#hit-ratio')),
               '#hit-ratio is not a percentage');
        const width = await page.locator('#fill-bar').evaluate((e) => e.style.width);
        assert(parseFloat(width) > 0, `fill bar width ${width}`);
        // The memory bar against max_memory, as /stats.json has it.
        const st = await (await fetch(`http://127.0.0.1:${adminPort}/stats.json`)).json();
        const mem = st.metrics.cache_memory_bytes;
        assert(mem > 0 && mem < 65536, `cache_memory_bytes ${mem}`);
        const mw = parseFloat(await page.locator('#mem-bar').evaluate((e) => e.style.width));
        assert(Math.abs(mw - 100 * mem / 65536) < 0.01, `memory bar ${mw}% for ${mem} B`);
        assertEq(await text(page, '#mem-pct'), (100 * mem / 65536).toFixed(1) + '%',
                 '#mem-pct');
        assertEq(await text(page, '#evict-capacity'), '0', '#evict-capacity');
        assertEq(await text(page, '#evict-memory'), '0', '#evict-memory');
    });

    await check('hit ratio chart is drawn', async () => {
        const blue = await page.locator('#chart').evaluate((cv) => {
            const d = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
            let n = 0;
            for (let i = 0; i < d.length; i += 4) {
                // the line colour, #2563eb
                if (d[i] < 80 && d[i + 1] > 70 && d[i + 1] < 130 && d[i + 2] > 200) {
                    n++;
                }
            }
            return n;
        });
        assert(blue > 50, `only ${blue} line pixels on the chart`);
    });

    await check('lookup shows a cached value, X-Cache and escapes markup', async () => {
        let r = await lookup(page, 'item:0');
        assert(r.status.startsWith('200'), `status ${r.status}`);
        assertEq(r.value, keys['item:0'], 'value');
        assertEq(r.xcache, seen.has('item:0') ? 'HIT' : 'MISS', 'X-Cache');
        r = await lookup(page, 'html');
        assert(r.status.startsWith('200'), `status ${r.status}`);
        assertEq(r.xcache, 'MISS', 'X-Cache of a first lookup');
        assertEq(r.value, keys.html, 'value shown as text');
        assertEq(await page.locator('#lookup-result img, #lookup-result b').count(),
                 0, 'elements created from the value');
        assertEq(await page.evaluate(() => window.__xss), undefined, 'script ran');
    });

    await check('lookup percent-encodes the key and truncates long values', async () => {
        let r = await lookup(page, 'greeting/ü ?&');
        assert(r.status.startsWith('200'), `status ${r.status}`);
        assertEq(r.url, 'GET /key/greeting%2F%C3%BC%20%3F%26', 'request URL');
        assertEq(r.value, keys['greeting/ü ?&'], 'value');
        r = await lookup(page, 'big');
        assert(r.status.startsWith('200'), `status ${r.status}`);
        assert(r.value.startsWith('x'.repeat(2000)) && r.value.endsWith('(truncated)'),
               `long value not truncated (${r.value.length} chars)`);
    });

    await check('lookup of a missing key shows 404', async () => {
        const r = await lookup(page, 'no-such-key');
        assert(r.status.startsWith('404'), `status ${JSON.stringify(r.status)}`);
    });

    await check('lookups are answered by the admin port, on the cache', async () => {
        const st = await (await fetch(`http://127.0.0.1:${adminPort}/stats.json`)).json();
        const q = st.metrics.requests_total;
        // Data-port requests are still the 65 of the traffic check: the
        // lookups went to the admin port, and were counted there.
        assertEq(q.http['2xx'] + q.http['4xx'], 65, 'data port requests');
        assert(q.admin['4xx'] >= 1, 'the 404 lookup is not counted on admin');
        const r = await lookup(page, 'html');
        assertEq(r.xcache, 'HIT', 'X-Cache of a second lookup');
    });

    let forwarded = 0;
    await check('set through the page, then a lookup shows the new value', async () => {
        forwarded = toInt(await text(page, '#forwarded'));
        const value = 'changed by the dashboard: <b>ü</b> ✓';
        const st = await write(page, '#write-set', 'item:0', value, '30');
        assert(st.startsWith('204'), `set status ${JSON.stringify(st)}`);
        assert(st.includes('expires in 30 s'), `set status ${JSON.stringify(st)}`);
        const ttl = await redisCommand(redisPort, 'TTL', 'item:0');
        assert(/^:(2\d|30)$/.test(ttl), `TTL in Redis ${ttl}`);
        assertEq(await redisCommand(redisPort, 'STRLEN', 'item:0'),
                 `:${Buffer.byteLength(value)}`, 'length in Redis');
        const r = await lookup(page, 'item:0');
        assert(r.status.startsWith('200'), `status ${r.status}`);
        assertEq(r.value, value, 'value after the set');
        assertEq(r.xcache, 'MISS', 'X-Cache after the set');
        await waitShows(page, '#forwarded', String(forwarded + 1),
                        'commands forwarded after one SET');
        // Without an expiry, the key keeps none.
        const st2 = await write(page, '#write-set', 'fresh key', 'v');
        assert(st2.startsWith('204'), `set status ${JSON.stringify(st2)}`);
        assertEq(await redisCommand(redisPort, 'TTL', 'fresh key'), ':-1', 'TTL');
        const bad = await write(page, '#write-set', 'fresh key', 'w', '1.5');
        assert(bad.startsWith('expiry'), `bad expiry ${JSON.stringify(bad)}`);
        assertEq(await page.locator('#write-status').evaluate(
                     (e) => getComputedStyle(e).color), 'rgb(185, 28, 28)',
                 'bad expiry shown in the error colour');
    });

    await check('delete through the page, then a lookup shows 404', async () => {
        let st = await write(page, '#write-del', 'item:0');
        assert(st.startsWith('204'), `delete status ${JSON.stringify(st)}`);
        assertEq(await redisCommand(redisPort, 'EXISTS', 'item:0'), ':0',
                 'EXISTS in Redis');
        const r = await lookup(page, 'item:0');
        assert(r.status.startsWith('404'), `status ${JSON.stringify(r.status)}`);
        st = await write(page, '#write-del', 'item:0');
        assert(st.startsWith('404'), `second delete ${JSON.stringify(st)}`);
        await waitShows(page, '#forwarded', String(forwarded + 4),
                        'commands forwarded after two SETs and two DELs');
    });

    await check('sessions figure moves while a RESP client is in MULTI', async () => {
        assertEq(await text(page, '#sessions-open'), '0', '#sessions-open before');
        const total = toInt(await text(page, '#sessions-total'));
        const c = await respConn(respPort);
        try {
            c.send('*1\r\n$5\r\nMULTI\r\n');
            assertEq(await c.line(), '+OK', 'MULTI');
            await waitShows(page, '#sessions-open', '1', 'sessions open in MULTI');
            await waitShows(page, '#sessions-total', String(total + 1),
                            'sessions opened');
        } finally {
            await c.close();
        }
        await waitShows(page, '#sessions-open', '0', 'sessions open after close');
        assertEq(await text(page, '#sessions-total'), String(total + 1),
                 '#sessions-total after close');
    });

    await check('a keyless write shows as a cache flush by writes', async () => {
        const before = toInt(await text(page, '#write-flushes'));
        assert(toInt(await text(page, '#entries')) > 0, 'cache already empty');
        assertEq(await respOnce(respPort, 'SWAPDB', '0', '0'), '+OK', 'SWAPDB');
        await waitShows(page, '#write-flushes', String(before + 1),
                        'cache flushes by writes');
        await waitShows(page, '#entries', '0', 'entries after the flush');
    });

    // B: [server] password set, writes off.
    const bUrl = `http://127.0.0.1:${bAdmin}/`;
    const auth = basic('anyone', PASSWORD);
    await check('password-protected proxy: no credentials, 401', async () => {
        const ctx = await browser.newContext();
        try {
            const p = await ctx.newPage();
            // Chromium gets the challenge; with no credentials to give,
            // Playwright cancels the prompt and the navigation fails.
            const answer = p.waitForResponse((r) => r.url() === bUrl,
                                             { timeout: 10_000 });
            let err = null;
            await p.goto(bUrl, { timeout: 10_000 }).catch((e) => { err = e; });
            const res = await answer;
            assertEq(res.status(), 401, 'GET / without credentials');
            assertEq(await res.headerValue('www-authenticate'),
                     'Basic realm="redis-proxy"', 'WWW-Authenticate');
            assert(err !== null && err.message.includes('ERR_INVALID_AUTH_CREDENTIALS'),
                   `navigation without credentials: ${err ? err.message : 'succeeded'}`);
            assertEq(await p.locator('#live').count(), 0,
                     'the dashboard was rendered anyway');
        } finally {
            await ctx.close();
        }
        for (const route of ['stats.json', 'key/item%3A1', 'metrics']) {
            const r = await get(bUrl + route);
            assertEq(r.status, 401, `/${route} without credentials`);
        }
        const r = await get(bUrl + 'stats.json', basic('x', 'wrong'));
        assertEq(r.status, 401, '/stats.json with a wrong password');
        assertEq((await get(bUrl + 'healthz')).status, 200, '/healthz stays open');
        assertEq((await get(bUrl + 'readyz')).status, 200, '/readyz stays open');
    });

    let pageB = null;
    let ctxB = null;
    await check('password-protected proxy: page, live numbers and lookup with credentials', async () => {
        ctxB = await browser.newContext({
            viewport: { width: 1200, height: 900 },
            httpCredentials: { username: 'anyone', password: PASSWORD,
                               origin: `http://127.0.0.1:${bAdmin}` },
        });
        const p = await ctxB.newPage();
        p.on('pageerror', (e) => pageErrors.push(`B: ${e.message}`));
        const res = await p.goto(bUrl, { timeout: 10_000 });
        assertEq(res.status(), 200, 'GET / with credentials');
        pageB = p;
        await p.waitForFunction(
            () => document.getElementById('live').textContent === 'live',
            null, { timeout: 5000 });
        assertEq(await text(p, '#cfg-password'), 'required', '#cfg-password');
        assertEq(await text(p, '#capacity'), '2', '#capacity');
        assertEq(await text(p, '#memory-max'), '8.0 KiB', '#memory-max');
        // The page's own polls carry the credentials: no new challenge each.
        const admin0 = (await (await fetch(bUrl + 'stats.json',
            { headers: { Authorization: auth } })).json())
            .metrics.auth_failures_total.admin;
        // Traffic on B's data port: one hit, then evictions for capacity
        // (2 entries) and, on the second 5000-byte value, for memory (8 KiB).
        for (const k of ['item:1', 'item:1', 'item:2', 'item:3', 'big:1', 'big:2']) {
            const r = await get(`http://127.0.0.1:${bHttp}/${encodeURIComponent(k)}`, auth);
            assertEq(r.status, 200, `GET ${k} on B`);
            assertEq(r.body, keys[k], `value of ${k} on B`);
        }
        await waitShows(p, '#hits', '1', 'hits on B');
        await waitShows(p, '#misses', '5', 'misses on B');
        const st = await (await fetch(bUrl + 'stats.json',
            { headers: { Authorization: auth } })).json();
        const ev = st.metrics.cache_evictions_total;
        assert(ev.capacity > 0 && ev.memory > 0,
               `evictions ${JSON.stringify(ev)}: not both reasons`);
        await waitShows(p, '#evict-capacity', String(ev.capacity), 'capacity evictions');
        await waitShows(p, '#evict-memory', String(ev.memory), 'memory evictions');
        assertEq(st.metrics.auth_failures_total.admin, admin0,
                 'admin auth failures while the page polled');
        const r = await lookup(p, 'item:3');
        assert(r.status.startsWith('200'), `lookup status ${r.status}`);
        assertEq(r.value, keys['item:3'], 'looked-up value');
        assertEq(r.url, 'GET /key/item%3A3', 'lookup URL');
    });

    await check('writes off: the set and delete controls are hidden', async () => {
        assert(pageB !== null, 'no page on B');
        assertEq(await text(pageB, '#cfg-writes'), 'off', '#cfg-writes');
        assert(await pageB.locator('#write').evaluate((e) => e.hidden),
               '#write not hidden');
        for (const sel of ['#write-value', '#write-ex', '#write-set', '#write-del']) {
            assert(!(await pageB.locator(sel).isVisible()), `${sel} is visible`);
        }
        // And the admin port refuses them, as the page would be told.
        const r = await get(`${bUrl}key/x`, auth, { method: 'PUT', body: 'v' });
        assertEq(r.status, 405, 'PUT /key/x with writes off');
        assertEq(r.headers.get('allow'), 'GET, HEAD', 'Allow');
        const d = await get(`${bUrl}key/x`, auth, { method: 'DELETE' });
        assertEq(d.status, 405, 'DELETE /key/x with writes off');
    });

    await check('auth failures figure moves after a wrong password', async () => {
        assert(pageB !== null, 'no page on B');
        const split = () => text(pageB, '#auth-split');
        const [h0, r0] = (await split()).split(' / ').map(toInt);
        assertEq(h0, 0, 'HTTP auth failures before');
        assertEq(r0, 0, 'RESP auth failures before');
        const r = await get(`http://127.0.0.1:${bHttp}/item%3A1`, basic('u', 'nope'));
        assertEq(r.status, 401, 'data port with a wrong password');
        await waitText(pageB, '#auth-split', (t) => t.startsWith('1 / 0 / '),
                       'HTTP auth failure');
        const line = await respOnce(bResp, 'AUTH', 'nope');
        assert(line.startsWith('-WRONGPASS'), `AUTH reply ${line}`);
        await waitText(pageB, '#auth-split', (t) => t.startsWith('1 / 1 / '),
                       'RESP auth failure');
        const admin = toInt((await split()).split(' / ')[2]);
        assert(admin >= 1, 'the refused page load is not counted on admin');
        assertEq(await text(pageB, '#auth-failures'), String(2 + admin),
                 '#auth-failures (the sum)');
    });
    if (ctxB) {
        await ctxB.close();
    }

    await check('screenshot saved', async () => {
        const st = await write(page, '#write-set', 'item:7',
                               'value of item 7, edited on the dashboard', '300');
        assert(st.startsWith('204'), `set status ${JSON.stringify(st)}`);
        await lookup(page, 'item:7');
        // Some live traffic, so the picture shows a request rate.
        for (let i = 0; i < 22; i++) {
            const r = await fetch(`http://127.0.0.1:${httpPort}/item%3A${i % 12}`,
                                  { signal: AbortSignal.timeout(3000) });
            await r.arrayBuffer();
            await sleep(100);
        }
        const png = await page.screenshot({ fullPage: true });
        for (const f of SHOTS) {
            fs.mkdirSync(path.dirname(f), { recursive: true });
            fs.writeFileSync(f, png);
        }
        assert(png.length > 10_000, `screenshot only ${png.length} bytes`);
        log(`     wrote ${SHOTS.map((f) => path.relative(ROOT, f)).join(' and ')}`);
    });

    await check('Redis nodes: a killed Redis shows in its row, and recovers', async () => {
        // A key never cached, so every GET asks Redis.
        const dataGet = async () => {
            const r = await fetch(`http://127.0.0.1:${httpPort}/nodes%3Aprobe`,
                                  { signal: AbortSignal.timeout(3000) });
            await r.arrayBuffer();
            return r.status;
        };
        const t0 = Date.now();
        await stopChild(redis, 'SIGKILL');
        // The stream notices at once: down, with the reason, the row marked.
        let rows = await waitNodes(page, (r) => r.length === 1 &&
                                   r[0].stream === 'down', 'stream down', 5000);
        log(`     stream down on the page ${Date.now() - t0} ms after the kill`);
        let n = rows[0];
        assertEq(n.key, nodeAddr, 'row data-addr');
        assert(n.reason !== null && n.reason.includes('refused'),
               `reason ${JSON.stringify(n.reason)}`);
        assertEq(n.reasonColor, RED, 'reason colour');
        assertEq(n.down, true, 'row marked down');
        assertEq(n.bg, REDIS_BG_DOWN, 'row background');
        assert((await text(page, '#nodes-summary')).endsWith(
            '0 of 1 streams up, 1 down'), 'summary while down');
        // A request finds the pool down too.
        assertEq(await dataGet(), 503, 'GET on the data port, Redis gone');
        rows = await waitNodes(page, (r) => r[0].pool === 'unreachable' &&
                               toInt(r[0].errors) > 0, 'pool unreachable', 5000);
        assertEq(await page.locator('#nodes-body .n-pool-state .pill').evaluate(
                     (e) => getComputedStyle(e).backgroundColor), RED,
                 'unreachable pill colour');
        // Back: the stream reconnects by itself (backoff up to 2 s); the
        // pool on the next request after its backoff.
        redis = startRedis();
        await waitFor('redis PING after restart', redis,
                      async () => (await redisCommand(redisPort, 'PING')) === '+PONG');
        await waitNodes(page, (r) => r[0].stream === 'up' && r[0].reason === null,
                        'stream up again', 8000);
        await waitFor('a data-port answer', redis,
                      async () => (await dataGet()) === 404, 8000);
        rows = await waitNodes(page, (r) => r[0].pool === 'reachable' &&
                               !r[0].down, 'pool reachable again', 5000);
        n = rows[0];
        assert(n.bg !== REDIS_BG_DOWN, 'row still marked');
        assertEq(await text(page, '#nodes-summary'),
                 '\u00b7 1 node, 16,384 of 16,384 slots, 1 of 1 streams up',
                 '#nodes-summary after recovery');
        log(`     recovered on the page ${Date.now() - t0} ms after the kill`);
    });

    await clusterChecks(pageErrors);

    await check('no uncaught errors in the page', async () => {
        assertEq(pageErrors.length, 0, `page errors ${pageErrors.join('; ')}`);
    });
}

// Three masters, no replicas, on free ports (and cluster bus ports given
// explicitly, so a data port above 55535 is fine), proxy C in front.
async function clusterChecks(pageErrors) {
    const version = await runTool('redis-server --version', REDIS_SERVER,
                                  ['--version']).catch(() => null);
    const major = version ? Number((/v=(\d+)/.exec(version.out) || [])[1]) : 0;
    const cli = await runTool('redis-cli --version', REDIS_CLI, ['--version'])
        .catch(() => null);
    if (!(major >= 7) || cli === null || cli.code !== 0) {
        log(`skip cluster case: ${cli === null ? 'no redis-cli'
            : `redis-server ${version ? version.out.trim() : '?'} (7+ needed)`}`);
        return;
    }
    const [n1, n2, n3, b1, b2, b3, cHttp, cResp, cAdmin] = await freePorts(9);
    const ports = [n1, n2, n3];
    const nodes = [];
    let page = null;
    await check('cluster: three masters and proxy C start', async () => {
        ports.forEach((p, i) => {
            const dir = path.join(tmp, `node-${p}`);
            fs.mkdirSync(dir);
            nodes.push(start(`node-${p}`, REDIS_SERVER, [
                '--bind', '127.0.0.1', '--port', String(p),
                '--cluster-enabled', 'yes', '--cluster-port', String([b1, b2, b3][i]),
                '--cluster-config-file', path.join(dir, 'nodes.conf'),
                '--save', '', '--appendonly', 'no', '--dir', dir,
            ], path.join(dir, 'redis.log')));
        });
        for (let i = 0; i < 3; i++) {
            await waitFor(`node ${ports[i]} PING`, nodes[i], async () =>
                (await redisCommand(ports[i], 'PING')) === '+PONG');
        }
        const r = await runTool('redis-cli --cluster create', REDIS_CLI, [
            '--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`),
            '--cluster-yes',
        ]);
        assert(r.code === 0 && r.out.includes('All 16384 slots covered'),
               `redis-cli --cluster create exited ${r.code}:\n${r.out}`);
        for (let i = 0; i < 3; i++) {
            await waitFor(`node ${ports[i]} cluster_state:ok`, nodes[i], async () => {
                const info = await runTool('redis-cli cluster info', REDIS_CLI,
                    ['-p', String(ports[i]), 'CLUSTER', 'INFO'], 3000);
                return info.out.includes('cluster_state:ok');
            });
        }
        await startProxy('proxy-c', [
            '[server]', 'bind = 127.0.0.1', `http_port = ${cHttp}`,
            `resp_port = ${cResp}`, 'workers = 2',
            '[redis]', 'host = 127.0.0.1', `port = ${n1}`, 'cluster = on',
            `seeds = 127.0.0.1:${n2}`,
            '[admin]', `port = ${cAdmin}`,
            '[log]', 'level = info',
        ], cAdmin);
        page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
        page.on('pageerror', (e) => pageErrors.push(`C: ${e.message}`));
        const res = await page.goto(`http://127.0.0.1:${cAdmin}/`, { timeout: 10_000 });
        assertEq(res.status(), 200, 'GET / on C');
    });
    if (page === null) {
        return;
    }

    const addrs = ports.map((p) => `127.0.0.1:${p}`);
    await check('cluster: three rows, ranges cover 0-16383 once', async () => {
        const rows = await waitNodes(page, (r) => r.length === 3 &&
                                     r.every((n) => n.stream === 'up'),
                                     'three nodes, streams up');
        assertEq(JSON.stringify(rows.map((n) => n.addr).sort()),
                 JSON.stringify([...addrs].sort()), 'node addresses');
        const owner = new Array(SLOTS).fill(null);
        for (const n of rows) {
            assertEq(n.key, n.addr, 'row data-addr');
            assertEq(n.role, 'master', `role of ${n.addr}`);
            assertEq(n.pool, 'reachable', `pool of ${n.addr}`);
            assertEq(n.down, false, `${n.addr} marked down`);
            let count = 0;
            for (const [lo, hi] of parseRanges(n.ranges)) {
                assert(lo <= hi && hi < SLOTS, `range ${lo}-${hi} of ${n.addr}`);
                for (let s = lo; s <= hi; s++) {
                    assert(owner[s] === null,
                           `slot ${s} shown on ${owner[s]} and ${n.addr}`);
                    owner[s] = n.addr;
                    count++;
                }
            }
            assert(count > 0, `${n.addr} shows no slots`);
            assertEq(toInt(n.slots), count, `slot count of ${n.addr}`);
        }
        const missing = owner.indexOf(null);
        assert(missing < 0, `slot ${missing} on no row`);
        assertEq(await text(page, '#nodes-summary'),
                 '\u00b7 3 nodes, 16,384 of 16,384 slots, 3 of 3 streams up',
                 '#nodes-summary');
    });

    await check('cluster: a killed master is marked down in its row only', async () => {
        const victim = addrs[2];
        await stopChild(nodes[2], 'SIGKILL');
        const rows = await waitNodes(page, (r) => r.length === 3 &&
            r.some((n) => n.addr === victim && n.stream === 'down'),
            `${victim} stream down`, 5000);
        for (const n of rows) {
            if (n.addr === victim) {
                assert(n.reason !== null && n.reason.includes('refused'),
                       `reason ${JSON.stringify(n.reason)}`);
                assertEq(n.down, true, `${victim} marked down`);
                assertEq(n.bg, REDIS_BG_DOWN, `${victim} background`);
            } else {
                assertEq(n.stream, 'up', `stream of ${n.addr}`);
                assertEq(n.down, false, `${n.addr} marked down`);
            }
        }
        assert((await text(page, '#nodes-summary')).endsWith(
            '2 of 3 streams up, 1 down'), 'summary with one master down');
        // For a look at the table with a node down; not kept in docs/.
        fs.mkdirSync(path.join(ROOT, 'build'), { recursive: true });
        await page.locator('#nodes-panel').screenshot(
            { path: path.join(ROOT, 'build/dashboard-cluster-nodes.png') });
    });
    await page.close();
}

const watchdog = setTimeout(() => {
    failed++;
    log(`FAIL whole run: over ${TOTAL_TIMEOUT_MS / 1000} s`);
    log(`browser: ${passed} passed, ${failed} failed`);
    process.exit(1);
}, TOTAL_TIMEOUT_MS);

try {
    await run();
} catch (e) {
    failed++;
    log(`FAIL unexpected: ${e && e.stack ? e.stack : e}`);
} finally {
    await stopAll();
    clearTimeout(watchdog);
}
log(`browser: ${passed} passed, ${failed} failed`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
