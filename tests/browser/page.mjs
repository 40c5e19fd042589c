// Reading and driving the dashboard page (src/serve/dashboard.html) in
// the browser test: its figures, the key lookup and the write controls,
// and the Redis nodes table. The figures come from one /stats.json sample
// a second, so what a check expects after a change it waits for.
import { assert, assertEq, sleep } from './lib.mjs';

export const text = (page, sel) => page.locator(sel).textContent({ timeout: 5000 });
export const toInt = (s) => Number(String(s).replace(/,/g, ''));

// Each [sel, want, what = sel] of rows: the page shows want in sel, now.
export async function expectTexts(page, rows) {
    for (const [sel, want, what = sel] of rows) {
        assertEq(await text(page, sel), want, what);
    }
}

// Waits for the page's first sample: the live indicator says "live".
export const waitLive = (page) => page.waitForFunction(
    () => document.getElementById('live').textContent === 'live',
    null, { timeout: 5000 });

// Calls read() every 100 ms until pred(value) holds and returns that
// value; at the deadline, throws fail(the last value).
async function poll(read, pred, timeoutMs, fail) {
    const deadline = Date.now() + timeoutMs;
    let last;
    while (Date.now() < deadline) {
        last = await read();
        if (pred(last)) {
            return last;
        }
        await sleep(100);
    }
    throw new Error(fail(last));
}

export const waitText = (page, sel, pred, what, timeoutMs = 5000) =>
    poll(() => text(page, sel), pred, timeoutMs,
         (last) => `${what}: ${sel} still shows ${JSON.stringify(last)}`);

// Waits for the page to show want in sel.
export const waitShows = (page, sel, want, what) =>
    waitText(page, sel, (t) => t === want, `${what} should show ${want}`);

// Does act() (fills and a click), then waits up to 6 s for the data-seq
// of sel to change: the page has shown its answer; else fails with what.
async function answered(page, sel, act, what) {
    const seq = () => page.locator(sel).getAttribute('data-seq');
    const before = await seq();
    await act();
    const deadline = Date.now() + 6000;
    while ((await seq()) === before) {
        assert(Date.now() < deadline, what);
        await sleep(50);
    }
}

// Types key into the lookup box, clicks, and waits for the answer.
export async function lookup(page, key) {
    await answered(page, '#lookup-meta', async () => {
        await page.fill('#lookup-key', key);
        await page.click('#lookup-go');
    }, `no answer to the lookup of ${key}`);
    return {
        status: await text(page, '#lookup-status'),
        xcache: await text(page, '#lookup-xcache'),
        value: await text(page, '#lookup-value'),
        url: await text(page, '#lookup-url'),
    };
}

// Fills key (and value and expiry for Set), clicks button (#write-set or
// #write-del) and waits for the status line.
export async function write(page, button, key, value = '', ex = '') {
    await answered(page, '#write-status', async () => {
        await page.fill('#lookup-key', key);
        await page.fill('#write-value', value);
        await page.fill('#write-ex', ex);
        await page.click(button);
    }, `no answer to ${button} of ${key}`);
    return text(page, '#write-status');
}

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
export const waitNodes = (page, pred, what, timeoutMs = 8000) =>
    poll(() => nodeRows(page), pred, timeoutMs,
         (rows) => `${what}: the nodes table shows ${JSON.stringify(rows)}`);

// "0-5460, 10923" -> [[0, 5460], [10923, 10923]]; "–" (no slots) -> [].
export function parseRanges(text) {
    if (text === '\u2013') {
        return [];
    }
    return text.split(/,\s*/).map((r) => {
        const m = /^(\d+)(?:-(\d+))?$/.exec(r);
        assert(m !== null, `range ${JSON.stringify(r)} in ${JSON.stringify(text)}`);
        return [Number(m[1]), Number(m[2] === undefined ? m[1] : m[2])];
    });
}

export const REDIS_BG_DOWN = 'rgb(254, 242, 242)';
export const RED = 'rgb(185, 28, 28)';
