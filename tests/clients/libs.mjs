// The client libraries under test, each behind the same small interface,
// created with the library's own defaults plus only what the case names
// (a protocol, a database, a client name): connect() waits until the
// library reports itself ready (or fails with the errors it reported),
// then get/set/sendCommand as the library does them, and close(). Also
// what the suites (clients.test.mjs, tls.test.mjs) read Redis and the
// proxy's /metrics with.
import { Redis as IORedis } from 'ioredis';
import { createClient } from 'redis';

const CONNECT_MS = 5000;

// Waits for ready, or fails after CONNECT_MS naming what the library
// reported meanwhile (a library retrying forever never rejects by itself).
function within(promise, what, errors) {
    let timer;
    const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(
            `${what}: not ready within ${CONNECT_MS} ms` +
            (errors.length ? `; it reported: ${[...new Set(errors)].join('; ')}` : ''))),
        CONNECT_MS);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// node-redis 5 (npm `redis`). opts: { RESP, database, name }.
export function nodeRedis(port, opts = {}) {
    const url = `redis://127.0.0.1:${port}` +
        (opts.database !== undefined ? `/${opts.database}` : '');
    const options = { url };
    if (opts.RESP !== undefined) {
        options.RESP = opts.RESP;
    }
    if (opts.name !== undefined) {
        options.name = opts.name;
    }
    const client = createClient(options);
    const errors = [];
    client.on('error', (e) => errors.push(e.message));
    return {
        errors,
        connect: () => within(client.connect(), 'node-redis connect', errors),
        get: (k) => client.get(k),
        set: (k, v) => client.set(k, v),
        send: (args) => client.sendCommand(args),
        close: async () => {
            try {
                client.destroy();
            } catch {
                // already closed
            }
        },
    };
}

// ioredis 5 with its defaults (it connects at once; connect() waits for
// its ready event).
export function ioredis(port) {
    const client = new IORedis({ host: '127.0.0.1', port });
    const errors = [];
    const ready = new Promise((resolve) => client.once('ready', resolve));
    client.on('error', (e) => errors.push(e.message));
    return {
        errors,
        connect: () => within(ready, 'ioredis connect', errors),
        get: (k) => client.get(k),
        set: (k, v) => client.set(k, v),
        send: ([cmd, ...args]) => client.call(cmd, ...args),
        close: async () => client.disconnect(),
    };
}

// The value of series in the /metrics of the admin port adminPort.
export async function metric(adminPort, series) {
    const r = await fetch(`http://127.0.0.1:${adminPort}/metrics`,
                          { signal: AbortSignal.timeout(3000) });
    const text = await r.text();
    const line = text.split('\n').find((l) => l.startsWith(series + ' '));
    if (line === undefined) {
        throw new Error(`/metrics has no ${series}`);
    }
    return Number(line.slice(series.length + 1));
}

// A client of Redis itself (not the proxy) on port, in database db; fn(client).
export async function direct(port, db, fn) {
    const c = createClient({ url: `redis://127.0.0.1:${port}/${db}` });
    c.on('error', () => {});
    await c.connect();
    try {
        return await fn(c);
    } finally {
        c.destroy();
    }
}

// The GET calls the Redis on port counted (INFO commandstats).
export async function redisGets(port) {
    const info = await direct(port, 0, (c) => c.info('commandstats'));
    const m = /cmdstat_get:calls=(\d+)/.exec(info);
    return m ? Number(m[1]) : 0;
}
