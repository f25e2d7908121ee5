import { isChatMessage } from '../domain/lane-item.js';
import type { ChatMessage } from '../domain/message.js';
import type { EvolutionClient, StoredRecord } from '../evolution/client.js';
import { normalizeEnvelope } from '../evolution/normalize.js';
import { ReconcileError } from './errors.js';

export interface StoredWindow {
  instance: string;
  fromMs: number;
  toMs: number;
  /** Keep only this canonical chat (filtered after normalisation, so every LID convention matches). */
  chat: string | null;
  pageSize: number;
}

export interface StoredPage {
  page: number;
  total: number;
  /** Messages as the live path would have made them, with the stored record each came from. */
  messages: { message: ChatMessage; record: StoredRecord }[];
  /** Rows the live path would skip too (protocol messages, status broadcasts, deleted rows). */
  skipped: number;
  /** Rows that do not parse as a message: counted and logged by the caller, never dropped silently. */
  unusable: { id: string | null; reason: string }[];
}

/**
 * Evolution's stored messages for a window, one page at a time (only one page is ever in memory).
 * Each stored row is wrapped as the `messages.upsert` envelope it would have been and put through
 * the live path's own normaliser: rows keep the RAW key (2.3.5+ LID rows carry `@lid` with the
 * phone in `remoteJidAlt`, 2.3.4 rows carry `senderPn`, and 2.3.7 events swap them), so only the
 * same code guarantees the same canonical chat as the event that was — or was not — received.
 */
export async function* storedPages(client: EvolutionClient, w: StoredWindow, shouldStop: () => boolean = () => false): AsyncGenerator<StoredPage> {
  const fetchPage = (page: number) => client.findMessages(w.instance, { gte: w.fromMs, lte: w.toMs, page, pageSize: w.pageSize });
  // One page is always being fetched while the caller compares the previous one: Evolution
  // answering and the ledger look-up overlap instead of taking turns. Two pages in memory at most.
  let next: ReturnType<typeof fetchPage> | null = fetchPage(1);
  for (let page = 1; next; page++) {
    if (shouldStop()) {
      void next.catch(() => {});
      throw new ReconcileError('RECONCILE_STOPPED', 'stopped: evosync is shutting down');
    }
    const r = await next;
    next = null;
    if (!r.ok) throw new ReconcileError('EVOLUTION_FAILED', `findMessages page ${page}: ${r.failure.kind}: ${r.failure.message}`);
    const { records, total } = r.value;
    // Pages are counted from the newest row: rows arriving meanwhile inside the window only push
    // rows later (seen twice, harmless); the window end is fixed, so newer traffic does not shift.
    const last = records.length < w.pageSize || page * w.pageSize >= total;
    if (!last) next = fetchPage(page + 1);
    yield { page, total, ...normalizeRecords(w.instance, records, w.chat) };
  }
}

export function normalizeRecords(instance: string, records: readonly StoredRecord[], chat: string | null): Omit<StoredPage, 'page' | 'total'> {
  const messages: StoredPage['messages'] = [];
  const unusable: StoredPage['unusable'] = [];
  let skipped = 0;
  for (const record of records) {
    if ((record.key as { deleted?: unknown } | undefined)?.deleted === true) {
      // Revoked before evosync saw it: bringing it back now would show what the sender withdrew.
      skipped += 1;
      continue;
    }
    const n = normalizeEnvelope({ event: 'messages.upsert', instance, data: record });
    if (n.kind === 'messages') {
      skipped += n.skipped.length;
      for (const message of n.messages) if (isChatMessage(message) && (chat === null || message.chat === chat)) messages.push({ message, record });
    } else if (n.kind === 'refused') {
      unusable.push({ id: typeof record?.key?.id === 'string' ? record.key.id : null, reason: n.reason });
    } else {
      skipped += 1;
    }
  }
  return { messages, skipped, unusable };
}
