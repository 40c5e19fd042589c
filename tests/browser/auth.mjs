// Proxy B ([server] password set, writes off) in the browser: the page
// refused without credentials, working with them (Playwright's
// httpCredentials) with live figures and the lookup, the write controls
// hidden, and wrong passwords counted on each port.
import { assert, assertEq, basic, check, get, respOnce, state,
         statsJson } from './lib.mjs';
import { expectTexts, lookup, text, toInt, waitLive, waitShows,
         waitText } from './page.mjs';

export const PASSWORD = 'dashboard-secret';

export async function passwordChecks(ctx) {
    const { keys, pageErrors } = ctx;
    const { bHttp, bResp, bAdmin } = ctx.ports;
    const bUrl = `http://127.0.0.1:${bAdmin}/`;
    const auth = basic('anyone', PASSWORD);
    await check('password-protected proxy: no credentials, 401', async () => {
        const bare = await state.browser.newContext();
        try {
            const p = await bare.newPage();
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
            await bare.close();
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
        ctxB = await state.browser.newContext({
            viewport: { width: 1200, height: 900 },
            httpCredentials: { username: 'anyone', password: PASSWORD,
                               origin: `http://127.0.0.1:${bAdmin}` },
        });
        const p = await ctxB.newPage();
        p.on('pageerror', (e) => pageErrors.push(`B: ${e.message}`));
        const res = await p.goto(bUrl, { timeout: 10_000 });
        assertEq(res.status(), 200, 'GET / with credentials');
        pageB = p;
        await waitLive(p);
        await expectTexts(p, [
            ['#cfg-password', 'required'],
            ['#capacity', '2'],
            ['#memory-max', '8.0 KiB'],
        ]);
        // The page's own polls carry the credentials: no new challenge each.
        const admin0 = (await statsJson(bAdmin, auth))
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
        const st = await statsJson(bAdmin, auth);
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
}
