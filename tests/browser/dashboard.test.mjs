// Browser test of the admin dashboard (src/dashboard.html) in Debian's
// headless Chromium, driven by playwright-core.
//
// Starts its own redis-server and proxy on free loopback ports, loads the
// dashboard, sends traffic to the data port and checks that the page shows
// it, uses the key lookup box, and saves a screenshot to build/dashboard.png
// and docs/dashboard.png. Prints "browser: N passed, M failed" and exits
// non-zero on any failure. Redis and the proxy are always stopped.
//
// Usage: node tests/browser/dashboard.test.mjs
//   PROXY_BIN     proxy binary (default build/redis-proxy)
//   CHROMIUM_BIN  browser (default /usr/bin/chromium)
//   REDIS_SERVER  redis-server (default: the one on PATH)
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
const TOTAL_TIMEOUT_MS = 60_000;
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

let redisPort, httpPort, respPort, adminPort;

async function run() {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rp-browser-'));
    [redisPort, httpPort, respPort, adminPort] = await freePorts(4);
    const keys = {};
    for (let i = 0; i < 30; i++) {
        keys[`item:${i}`] = `value of item ${i} `.repeat(1 + (i % 4)).trim();
    }
    keys['greeting/ü ?&'] = 'hello, wörld';
    keys['html'] = '<img src=x onerror="window.__xss=1"><b>not markup</b>';
    keys['big'] = 'x'.repeat(5000);

    let setupOk = false;
    await check('redis-server and proxy start', async () => {
        assert(fs.existsSync(PROXY_BIN), `no proxy binary at ${PROXY_BIN}`);
        const redis = start('redis', REDIS_SERVER, [
            '--bind', '127.0.0.1', '--port', String(redisPort), '--save', '',
            '--appendonly', 'no', '--dir', tmp,
        ], path.join(tmp, 'redis.log'));
        await waitFor('redis PING', redis,
                      async () => (await redisCommand(redisPort, 'PING')) === '+PONG');
        for (const [k, v] of Object.entries(keys)) {
            await redisCommand(redisPort, 'SET', k, v);
        }
        const ini = path.join(tmp, 'proxy.ini');
        fs.writeFileSync(ini, [
            '[server]', 'bind = 127.0.0.1', `http_port = ${httpPort}`,
            `resp_port = ${respPort}`, 'workers = 4',
            '[redis]', 'host = 127.0.0.1', `port = ${redisPort}`,
            '[cache]', 'ttl = 5m', 'capacity = 1000', 'tracking = on',
            '[admin]', `port = ${adminPort}`,
            '[log]', 'level = info', '',
        ].join('\n'));
        const proxy = start('proxy', PROXY_BIN, ['-c', ini], path.join(tmp, 'proxy.log'));
        await waitFor('proxy /readyz', proxy, async () => {
            const r = await fetch(`http://127.0.0.1:${adminPort}/readyz`);
            await r.text();
            return r.status === 200;
        });
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
            args: ['--headless', '--no-sandbox', '--disable-gpu',
                   '--disable-background-networking', '--disable-quic',
                   '--no-first-run', '--disable-component-update',
                   '--disable-sync'],
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
        assert(/^\d+s$/.test(await text(page, '#uptime')), 'uptime not shown');
        assert(!(await page.locator('#lookup-go').isDisabled()),
               'lookup button still disabled');
        // The rate needs two samples.
        await waitText(page, '#req-rate', (t) => t === '0.0', 'idle request rate');
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
        assertEq(r.url, `GET http://127.0.0.1:${httpPort}/greeting%2F%C3%BC%20%3F%26`,
                 'request URL');
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

    await check('no uncaught errors in the page', async () => {
        assertEq(pageErrors.length, 0, `page errors ${pageErrors.join('; ')}`);
    });

    await check('screenshot saved', async () => {
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
