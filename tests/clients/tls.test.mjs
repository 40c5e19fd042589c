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
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createClient } from 'redis';
import { PROXY_BIN, ROOT, assert, assertEq, check, freePorts, log, redisCommand,
         sleep, start, startRedis, state, stopAll, stopChild,
         waitFor } from '../browser/lib.mjs';
import { direct, metric, redisGets } from './libs.mjs';

function client(port, opts = {}) {
    const c = createClient({
        socket: {
            host: 'localhost',
            port,
            tls: true,
            ca: fs.readFileSync(path.join(state.tmp, opts.ca || 'ca.crt')),
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
    const tmp = state.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rp-clients-'));
    const certs = spawnSync('bash', [path.join(ROOT, 'tools/tls-certs.sh'), tmp],
                            { encoding: 'utf8' });
    assert(certs.status === 0, `tls-certs.sh: ${certs.stderr}`);
    const [redisPort, httpPort, respPort, tlsPort, adminPort] = await freePorts(5);
    const redis = startRedis(redisPort);
    await waitFor('redis PING', redis,
                  async () => (await redisCommand(redisPort, 'PING')) === '+PONG');
    fs.writeFileSync(path.join(tmp, 'proxy.ini'), [
        '[server]', 'bind = 127.0.0.1', `http_port = ${httpPort}`,
        `resp_port = ${respPort}`, `tls_port = ${tlsPort}`,
        `tls_cert_file = ${path.join(tmp, 'server.crt')}`,
        `tls_key_file = ${path.join(tmp, 'server.key')}`,
        '[redis]', 'host = 127.0.0.1', `port = ${redisPort}`,
        '[admin]', `port = ${adminPort}`, ''].join('\n'));
    const proxy = start('proxy', PROXY_BIN, ['-c', path.join(tmp, 'proxy.ini')],
                        path.join(tmp, 'proxy.log'));
    await waitFor('the proxy\'s /readyz', proxy, async () => {
        const r = await fetch(`http://127.0.0.1:${adminPort}/readyz`);
        await r.text();
        return r.status === 200;
    });

    const c = client(tlsPort);
    await c.connect();

    await check('PING over TLS', async () => {
        assertEq(await c.ping(), 'PONG', 'PING');
    });

    await check('SET is forwarded to Redis', async () => {
        assertEq(await c.set('node:k', 'from node over tls'), 'OK', 'SET');
        assertEq(await direct(redisPort, 0, (r) => r.get('node:k')),
                 'from node over tls', 'the value in Redis');
    });

    await check('GET is answered from the cache', async () => {
        const c = client(tlsPort, { plain: true });
        await c.connect();
        assertEq(await c.get('node:k'), 'from node over tls', 'first GET');
        const hits = await metric(adminPort, 'redis_proxy_cache_hits_total');
        const calls = await redisGets(redisPort);
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
        assertEq(await redisGets(redisPort), calls, 'GETs Redis saw');
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
        await stopChild(proxy);
        assertEq(proxy.exitCode, 0, 'exit status');
    });
}

try {
    await main();
} catch (e) {
    state.failed++;
    log(`FAIL setup: ${e && e.stack ? e.stack : e}`);
} finally {
    await stopAll();
}
log(`clients: ${state.passed} passed, ${state.failed} failed`);
process.exit(state.failed > 0 ? 1 : 0);
