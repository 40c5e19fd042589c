// The dashboard's Redis nodes table in the browser: proxy A's one node
// (address, 0-16383, stream up); with that Redis killed, the stream down
// with its reason and the node unreachable, both back once it is
// restarted. Then a 3-master Redis Cluster (redis-server
// --cluster-enabled, redis-cli --cluster create) behind proxy C with
// [redis] cluster = on: three rows whose ranges cover 0-16383 once each,
// and a killed master marked down in its row alone; skipped (and said so)
// without redis-cli or with a redis-server older than 7 (no
// cluster-port). The cluster's table, one master down, is saved to
// build/dashboard-cluster-nodes.png.
import fs from 'node:fs';
import path from 'node:path';
import { REDIS_CLI, REDIS_SERVER, ROOT, assert, assertEq, check, freePorts,
         log, redisCommand, runTool, start, startProxy, startRedis, state,
         stopChild, waitFor } from './lib.mjs';
import { RED, REDIS_BG_DOWN, parseRanges, text, toInt,
         waitNodes } from './page.mjs';

const SLOTS = 16384;
const ONE_NODE_UP = '\u00b7 1 node, 16,384 of 16,384 slots, 1 of 1 streams up';

export async function standaloneNode(ctx) {
    const { page } = ctx;
    const nodeAddr = `127.0.0.1:${ctx.ports.redis}`;
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
        assertEq(await text(page, '#nodes-summary'), ONE_NODE_UP, '#nodes-summary');
        assert(await page.locator('#nodes-empty').isHidden(),
               '"no node" note shown');
    });
}

export async function killedRedis(ctx) {
    const { page } = ctx;
    const { redis: redisPort, http: httpPort } = ctx.ports;
    const nodeAddr = `127.0.0.1:${redisPort}`;
    await check('Redis nodes: a killed Redis shows in its row, and recovers', async () => {
        // A key never cached, so every GET asks Redis.
        const dataGet = async () => {
            const r = await fetch(`http://127.0.0.1:${httpPort}/nodes%3Aprobe`,
                                  { signal: AbortSignal.timeout(3000) });
            await r.arrayBuffer();
            return r.status;
        };
        const t0 = Date.now();
        await stopChild(ctx.redis, 'SIGKILL');
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
        ctx.redis = startRedis(redisPort);
        await waitFor('redis PING after restart', ctx.redis,
                      async () => (await redisCommand(redisPort, 'PING')) === '+PONG');
        await waitNodes(page, (r) => r[0].stream === 'up' && r[0].reason === null,
                        'stream up again', 8000);
        await waitFor('a data-port answer', ctx.redis,
                      async () => (await dataGet()) === 404, 8000);
        rows = await waitNodes(page, (r) => r[0].pool === 'reachable' &&
                               !r[0].down, 'pool reachable again', 5000);
        n = rows[0];
        assert(n.bg !== REDIS_BG_DOWN, 'row still marked');
        assertEq(await text(page, '#nodes-summary'), ONE_NODE_UP,
                 '#nodes-summary after recovery');
        log(`     recovered on the page ${Date.now() - t0} ms after the kill`);
    });
}

// Three masters, no replicas, on free ports (and cluster bus ports given
// explicitly, so a data port above 55535 is fine), proxy C in front.
export async function clusterChecks({ pageErrors }) {
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
            const dir = path.join(state.tmp, `node-${p}`);
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
        page = await state.browser.newPage({ viewport: { width: 1200, height: 900 } });
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
