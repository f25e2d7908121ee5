import { connect as tcpConnect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createEvosync } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/lib/logger.js';
import { tempSqliteUrl } from '../helpers/services.js';

describe('shutdown and HTTP peers', () => {
  it('never hangs on a client stuck mid-request: idle sockets close at once, a busy one is cut after the grace', async () => {
    const app = await createEvosync(
      loadConfig({
        EVOSYNC_DATABASE_URL: tempSqliteUrl(), EVOSYNC_HOST: '127.0.0.1', EVOSYNC_PORT: '0',
        CHATWOOT_URL: 'http://127.0.0.1:9', CHATWOOT_API_TOKEN: 't', CHATWOOT_ACCOUNT_ID: '1', CHATWOOT_INBOX_ID: '1',
        EVOSYNC_WEBHOOK_TOKEN: 'shutdown-webhook-token-0123456789', EVOSYNC_SHUTDOWN_GRACE_MS: '800', EVOSYNC_LOG_LEVEL: 'silent',
      }),
      { logger: createLogger('silent') },
    );
    const url = new URL(await app.listen());
    // A sender that announced a body and never finished it: its request never ends by itself.
    const socket = tcpConnect(Number(url.port), url.hostname);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.on('error', () => {});
    socket.write('POST /webhooks/evolution HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"event":');
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await new Promise((r) => setTimeout(r, 100));

    const started = Date.now();
    await app.stop();
    const took = Date.now() - started;
    await closed;
    expect(took).toBeGreaterThanOrEqual(700);
    expect(took).toBeLessThan(5_000);
  });
});
