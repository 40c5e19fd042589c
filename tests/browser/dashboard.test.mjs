// Browser test of the admin dashboard (src/serve/dashboard.html) in Debian's
// headless Chromium, driven by playwright-core.
//
// Starts its own redis-server and two proxies on free loopback ports: A with
// [http] writes = on and no password, B with [server] password set and writes
// off. On A it loads the dashboard, sends traffic to the data port and checks
// that the page shows it, uses the key lookup (GET /key/<key> on the admin
// port) and the set and delete controls, opens a RESP session and sends a
// keyless write, and saves a screenshot to build/dashboard.png and
// docs/dashboard.png (data.mjs). On B it checks that the page is refused
// without credentials, works with them (Playwright's httpCredentials), hides
// the write controls, and counts wrong passwords (auth.mjs). The Redis nodes
// table: A's one node, then that Redis killed and restarted, and last a
// 3-master Redis Cluster behind proxy C (nodes.mjs). The checks run one
// after another in this order, each counting on what the ones before did;
// page.mjs reads and drives the page, lib.mjs starts and stops everything.
// Prints "browser: N passed, M failed" and exits non-zero on any failure.
// Every process it starts is stopped, and its temporary directory removed.
//
// Usage: node tests/browser/dashboard.test.mjs
//   PROXY_BIN     proxy binary (default build/redis-proxy)
//   CHROMIUM_BIN  browser (default /usr/bin/chromium)
//   REDIS_SERVER  redis-server (default: the one on PATH)
//   REDIS_CLI     redis-cli, for the cluster case (default: the one on PATH)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { PASSWORD, passwordChecks } from './auth.mjs';
import { firstSample, screenshot, trafficAndControls } from './data.mjs';
import { CHROMIUM_ARGS, CHROMIUM_BIN, PROXY_BIN, assert, assertEq, check,
         freePorts, log, redisCommand, startProxy, startRedis, state, stopAll,
         waitFor } from './lib.mjs';
import { clusterChecks, killedRedis, standaloneNode } from './nodes.mjs';

const TOTAL_TIMEOUT_MS = 150_000;

async function run() {
    state.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rp-browser-'));
    const [redisPort, httpPort, respPort, adminPort, bHttp, bResp, bAdmin] =
        await freePorts(7);
    // What the checks share: the ports, the keys set in Redis, its
    // process, proxy A's page and the errors any page raised.
    const ctx = {
        ports: { redis: redisPort, http: httpPort, resp: respPort,
                 admin: adminPort, bHttp, bResp, bAdmin },
        keys: {}, redis: null, page: null, pageErrors: [],
    };
    const keys = ctx.keys;
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
        ctx.redis = startRedis(redisPort);
        await waitFor('redis PING', ctx.redis,
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

    await check('dashboard loads in Chromium', async () => {
        state.browser = await chromium.launch({
            executablePath: CHROMIUM_BIN,
            args: CHROMIUM_ARGS,
            timeout: 20_000,
        });
        const page = await state.browser.newPage({ viewport: { width: 1200, height: 900 } });
        page.on('pageerror', (e) => ctx.pageErrors.push(e.message));
        ctx.page = page;
        const res = await page.goto(`http://127.0.0.1:${adminPort}/`,
                                    { timeout: 10_000 });
        assertEq(res.status(), 200, 'GET / status');
        assertEq(await page.title(), 'redis-proxy dashboard', 'title');
        assert(await page.locator('script[src], link[href], img[src]').count() === 0,
               'the page loads external resources');
    });
    if (ctx.page === null) {
        return;
    }

    await firstSample(ctx);
    await standaloneNode(ctx);
    await trafficAndControls(ctx);
    await passwordChecks(ctx);
    await screenshot(ctx);
    await killedRedis(ctx);
    await clusterChecks(ctx);

    await check('no uncaught errors in the page', async () => {
        assertEq(ctx.pageErrors.length, 0, `page errors ${ctx.pageErrors.join('; ')}`);
    });
}

const watchdog = setTimeout(() => {
    state.failed++;
    log(`FAIL whole run: over ${TOTAL_TIMEOUT_MS / 1000} s`);
    log(`browser: ${state.passed} passed, ${state.failed} failed`);
    process.exit(1);
}, TOTAL_TIMEOUT_MS);

try {
    await run();
} catch (e) {
    state.failed++;
    log(`FAIL unexpected: ${e && e.stack ? e.stack : e}`);
} finally {
    await stopAll();
    clearTimeout(watchdog);
}
log(`browser: ${state.passed} passed, ${state.failed} failed`);
process.exit(state.failed > 0 || state.passed === 0 ? 1 : 0);
