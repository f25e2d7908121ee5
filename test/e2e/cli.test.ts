import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempSqliteUrl } from '../helpers/services.js';

const BIN = resolve(import.meta.dirname, '../../dist/src/bin/evosync.js');
const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [BIN, ...args], { env: { PATH: process.env['PATH'] ?? '', ...env }, encoding: 'utf8', timeout: 20_000 });

describe('evosync CLI', () => {
  it('help lists every command and setting', () => {
    const r = run(['help']);
    expect(r.status).toBe(0);
    for (const word of ['start', 'migrate', 'status', 'demo', 'EVOSYNC_DATABASE_URL', 'CHATWOOT_API_TOKEN', 'EVOSYNC_ORDER_WINDOW_MS']) expect(r.stdout).toContain(word);
  });

  it('start with a broken configuration exits 78 and names every problem, without leaking secrets', () => {
    const r = run(['start'], { EVOSYNC_PORT: 'x', CHATWOOT_API_TOKEN: 'super-secret-token-value', EVOSYNC_DATABSE_URL: 'typo' });
    expect(r.status).toBe(78);
    for (const name of ['EVOSYNC_PORT', 'EVOSYNC_DATABSE_URL', 'CHATWOOT_URL', 'EVOSYNC_WEBHOOK_TOKEN']) expect(r.stderr).toContain(name);
    expect(r.stderr + r.stdout).not.toContain('super-secret-token-value');
  });

  it('migrate is idempotent and status reads counts beside it', () => {
    const db = tempSqliteUrl();
    const first = run(['migrate'], { EVOSYNC_DATABASE_URL: db });
    expect(first.status).toBe(0);
    expect(first.stdout).toContain('applied: 0001_init');
    const second = run(['migrate'], { EVOSYNC_DATABASE_URL: db });
    expect(second.stdout).toContain('up to date');
    const status = run(['status', '--json'], { EVOSYNC_DATABASE_URL: db });
    expect(status.status).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ pending: 0, delivered: 0, dead: 0, refused: 0 });
  });

  it('start on a port already taken exits 1 with the reason, stopping what it had started (no half-started process)', async () => {
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const port = (holder.address() as { port: number }).port;
    const db = tempSqliteUrl();
    try {
      const r = run(['start'], {
        EVOSYNC_DATABASE_URL: db, EVOSYNC_HOST: '127.0.0.1', EVOSYNC_PORT: String(port), EVOSYNC_LOG_LEVEL: 'error',
        CHATWOOT_URL: 'http://127.0.0.1:9', CHATWOOT_API_TOKEN: 'x', CHATWOOT_ACCOUNT_ID: '1', CHATWOOT_INBOX_ID: '1', EVOSYNC_WEBHOOK_TOKEN: 'cli-test-webhook-token-0123456789',
      });
      expect(r.error).toBeUndefined(); // not killed by the timeout: it exited by itself
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('EADDRINUSE');
      expect(existsSync(`${db.slice('sqlite:'.length)}.lock`)).toBe(false);
    } finally {
      holder.close();
    }
  });

  it('unknown commands and flags are refused', () => {
    expect(run(['frobnicate']).status).toBe(2);
    expect(run(['status', '--jsonn'], { EVOSYNC_DATABASE_URL: tempSqliteUrl() }).status).not.toBe(0);
  });
});
