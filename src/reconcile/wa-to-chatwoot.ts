import type { ChatMessage } from '../domain/message.js';
import type { EvolutionClient, StoredRecord } from '../evolution/client.js';
import type { Intake } from '../ingest/intake.js';
import type { Ledger, ReconcileRun } from '../ledger/ledger.js';
import type { Logger } from '../lib/logger.js';
import { coerceError } from '../errors.js';
import { ReconcileError } from './errors.js';
import { storedPages } from './stored-messages.js';

export interface ReconcileRequest {
  instance: string;
  fromMs: number;
  toMs: number;
  chat: string | null;
  /** schedule | reconnect | api | cli */
  trigger: string;
}

export interface WaToChatwootDeps {
  client: EvolutionClient;
  ledger: Ledger;
  intake: Intake;
  logger: Logger;
  pageSize: number;
  /** Messages committed per intake call when repairing. */
  batchMax: number;
  /** Missing messages held before they are committed mid-run (see below). */
  holdMax?: number;
  shouldStop?: () => boolean;
}

const DEFAULT_HOLD_MAX = 20_000;

/**
 * WhatsApp → Chatwoot reconciliation for one instance and window: pages through Evolution's
 * stored messages, asks the ledger which ids it already has (one batched query per page), and feeds
 * only the missing ones to intake as source `reconcile`, so they take the normal delivery path:
 * deduplicated by the ledger's unique key, delivered in their chat's lane in WhatsApp order.
 *
 * Pages come newest first, so missing messages are held (only those; a page of records is dropped
 * once compared) and committed oldest first at the end: committing page by page would let a chat's
 * newest gap be delivered before its older gaps are even found. Past `holdMax` they are committed
 * early; older ones found later then land as marked late arrivals rather than in place.
 *
 * Fills the WhatsApp → Chatwoot counts of `run`; a failure ends this direction and is written to
 * `run.error`, never thrown (src/reconcile/run.ts records the run).
 */
export async function reconcileWaToChatwoot(deps: WaToChatwootDeps, req: ReconcileRequest, run: ReconcileRun): Promise<void> {
  const held = new Map<string, { message: ChatMessage; record: StoredRecord }>();
  const flush = async () => {
    if (held.size === 0) return;
    // Pages are newest first, ties newest insert first: reversed, then a stable sort by WhatsApp time.
    const ordered = [...held.values()].reverse().sort((a, b) => a.message.timestamp - b.message.timestamp);
    held.clear();
    for (let i = 0; i < ordered.length; i += deps.batchMax) {
      const chunk = ordered.slice(i, i + deps.batchMax);
      const raw = JSON.stringify({ event: 'messages.upsert', instance: req.instance, data: chunk.map((c) => c.record) });
      const result = await deps.intake.accept({ kind: 'messages', instance: req.instance, event: 'messages.upsert', messages: chunk.map((c) => c.message), skipped: [] }, 'reconcile', raw);
      run.repaired += result.inserted;
    }
  };
  try {
    const pages = storedPages(deps.client, { instance: req.instance, fromMs: req.fromMs, toMs: req.toMs, chat: req.chat, pageSize: deps.pageSize }, deps.shouldStop);
    for await (const page of pages) {
      run.pages += 1;
      run.unusable += page.unusable.length;
      for (const u of page.unusable.slice(0, 5)) deps.logger.warn({ instance: req.instance, waId: u.id, reason: u.reason }, 'stored Evolution row is not a readable message');
      if (page.messages.length === 0) continue;
      run.compared += page.messages.length;
      const known = await deps.ledger.existingWaIds(req.instance, page.messages.map((m) => m.message.waId));
      for (const m of page.messages) {
        if (known.has(m.message.waId) || held.has(m.message.waId)) continue;
        held.set(m.message.waId, m);
        run.missing += 1;
      }
      if (held.size >= (deps.holdMax ?? DEFAULT_HOLD_MAX)) await flush();
    }
  } catch (error) {
    run.error = error instanceof ReconcileError ? `${error.code}: ${error.message}` : coerceError(error).message;
  }
  try {
    // Also after a failed page: what was found is missing for sure, and the next run finds the rest.
    await flush();
  } catch (error) {
    run.error = [run.error, `repair: ${coerceError(error).message}`].filter(Boolean).join('; ');
  }
}
