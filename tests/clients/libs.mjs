// The client libraries under test, each behind the same small interface,
// created with the library's own defaults plus only what the case names
// (a protocol, a database, a client name): connect() waits until the
// library reports itself ready (or fails with the errors it reported),
// then get/set/sendCommand as the library does them, and close().
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
