import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connect } from '../../src/ledger/connect.js';
import { SqlLedger, migrateLedger } from '../../src/ledger/sql-ledger.js';
import { WalSync } from '../../src/ledger/wal-sync.js';
import { chatMessage } from '../helpers/fixtures.js';
import { ledgerConformance } from './ledger.conformance.js';
import { tempSqliteUrl } from '../helpers/services.js';

ledgerConformance('sqlite', async () => ({ url: tempSqliteUrl(), drop: async () => {} }));

describe('SQLite durability on the hot paths', () => {
  it('commits ingest and completions with the log synced off the event loop, and leaves the connection FULL for every other write', async () => {
    const url = tempSqliteUrl();
    const conn = await connect(url, { exclusive: true });
    await migrateLedger(conn);
    const ledger = new SqlLedger(conn);
    try {
      const m = chatMessage({ chat: 'durable@s.whatsapp.net' });
      const syncs: string[] = [];
      const realSync = WalSync.prototype.sync;
      WalSync.prototype.sync = function (this: WalSync) {
        syncs.push('sync');
        return realSync.call(this);
      };
      try {
        expect(await ledger.insertMessages([{ message: m, direction: 'to_chatwoot', source: 'webhook' }], 1000)).toEqual(['inserted']);
        const [lane] = await ledger.claimLanes('D', 1, 1000, 30_000);
        const head = (await ledger.laneHead(lane!.instance, lane!.chat, 'skip'))!;
        await ledger.complete([{ messageId: head.id, instance: head.instance, chat: head.chat, owner: 'D', outcome: { state: 'delivered', cwMessageId: 1, cwConversationId: 1 }, keepLeaseUntil: null, nowMs: 1100, deadPolicy: 'skip' }]);
      } finally {
        WalSync.prototype.sync = realSync;
      }
      // One log sync per hot-path commit, and the connection back to FULL (2) for the rest.
      expect(syncs).toEqual(['sync', 'sync']);
      expect(conn.sqlite!.pragma('synchronous', { simple: true })).toBe(2);
      expect((await ledger.getMessage(m.instance, m.waId))?.state).toBe('delivered');
      // The log is a file of its own while the service runs: what WalSync syncs exists.
      expect(existsSync(`${conn.sqlite!.name}-wal`)).toBe(true);
    } finally {
      await ledger.close();
    }
  });

  it('coalesces syncs asked for while one runs, and survives its log being replaced', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'evosync-wal-'));
    const path = join(dir, 'x.db');
    writeFileSync(`${path}-wal`, 'frames');
    const wal = new WalSync(path);
    await Promise.all([wal.sync(), wal.sync(), wal.sync()]);
    rmSync(`${path}-wal`);
    writeFileSync(`${path}-wal`, 'new log');
    await wal.sync();
    rmSync(`${path}-wal`);
    await expect(wal.sync()).rejects.toThrow(/ENOENT/);
    await wal.close();
  });
});
