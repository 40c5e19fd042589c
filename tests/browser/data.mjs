// The dashboard of proxy A (writes on, no password), checked in the
// browser: its first sample, traffic on the data port showing as request
// rate, hits and misses, the key lookup, the set and delete controls, a
// RESP session and a keyless write moving their figures; and the
// screenshot saved to build/dashboard.png and docs/dashboard.png.
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, assert, assertEq, check, log, redisCommand, respConn, respOnce,
         sleep, statsJson } from './lib.mjs';
import { expectTexts, lookup, text, toInt, waitLive, waitShows, waitText,
         write } from './page.mjs';

const SHOTS = [path.join(ROOT, 'build/dashboard.png'),
               path.join(ROOT, 'docs/dashboard.png')];

// A small deterministic PRNG, so the traffic (and so the hit count) is fixed.
function lcg(seed) {
    let s = seed >>> 0;
    return () => {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        return s / 2 ** 32;
    };
}

export async function firstSample(ctx) {
    const { page } = ctx;
    const { http: httpPort, resp: respPort } = ctx.ports;
    await check('first sample renders numbers', async () => {
        await waitLive(page);
        await expectTexts(page, [
            ['#entries', '0'],
            ['#capacity', '1,000'],
            ['#hits', '0'],
            ['#redis-status', 'reachable'],
            ['#tracking', 'up'],
            ['#pool', '0 / 8', '#pool (in use / size)'],
            ['#workers-total', '4'],
            ['#cfg-ports', `${httpPort} / ${respPort}`],
            ['#memory-max', '64.0 KiB'],
            ['#sessions-open', '0'],
            ['#sessions-max', '256'],
            ['#auth-failures', '0'],
            ['#auth-split', '0 / 0 / 0'],
            ['#cfg-password', 'none'],
            ['#cfg-writes', 'on'],
        ]);
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
}

// Traffic, the lookup, the write controls, a session and a keyless write,
// in this order: each check counts on what the ones before it did.
export async function trafficAndControls(ctx) {
    const { page, keys } = ctx;
    const { redis: redisPort, http: httpPort, resp: respPort,
            admin: adminPort } = ctx.ports;
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
        const st = await statsJson(adminPort);
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
        const st = await statsJson(adminPort);
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
}

// The picture in docs/: an edited key looked up, and live traffic.
export async function screenshot(ctx) {
    const { page } = ctx;
    const { http: httpPort } = ctx.ports;
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
}
