/**
 * Publishing stored messages the way Evolution's upsert handler does: MESSAGES_UPSERT (base64
 * attached to media when the instance webhook asks for it), then CONTACTS_UPSERT/UPDATE, and for
 * own 1:1 messages the delivery receipt (MESSAGES_UPDATE) that follows. Emits are fire-and-forget
 * in Evolution; here `concurrency` bounds how many are in flight, and the publish faults model the
 * loss, duplication and reordering consumers must survive.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { SimContext } from './context.js';
import { emptyEmitStats, type EmitStats } from './dispatcher.js';
import { EVENT } from './events.js';
import { wantsBase64, type InstanceState } from './instances.js';
import { eventKey } from './lid.js';
import { isMediaMessage } from './media.js';
import { receiptPayload } from './message-raw.js';
import type { Row } from './store.js';
import type { PublishReport, StoredMessage } from './types.js';
import { isGroupJid } from './wa-ids.js';

type Json = Record<string, unknown>;

/**
 * The messageRaw of MESSAGES_UPSERT / SEND_MESSAGE for a stored row, as this version emits it.
 * Only the upsert handler applies the 2.3.7+ key swap; SEND_MESSAGE keeps the stored key.
 */
export function messageRawFor(ctx: SimContext, inst: InstanceState, row: Row, swapKey = true): Json {
  const m = row.msg;
  const message =
    wantsBase64(inst) && isMediaMessage(m.message)
      ? { ...m.message, base64: ctx.media.bytes(m.key.id).toString('base64') }
      : m.message;
  return {
    key: swapKey ? eventKey(m.key, ctx.convention) : m.key,
    pushName: m.pushName,
    status: m.status,
    message,
    contextInfo: row.omitContextInfo ? undefined : m.contextInfo,
    messageType: m.messageType,
    messageTimestamp: m.messageTimestamp,
    instanceId: row.instanceId,
    source: m.source,
  };
}

/** The contact event every upsert is followed by: upsert for a new contact row, update after. */
export function contactEvent(inst: InstanceState, remoteJid: string, fromMe: boolean, pushName: string): { event: string; data: Json } {
  const known = inst.contacts.has(remoteJid);
  inst.contacts.add(remoteJid);
  inst.chats.add(remoteJid);
  return {
    event: known ? EVENT.CONTACTS_UPDATE : EVENT.CONTACTS_UPSERT,
    data: { remoteJid, pushName: fromMe ? '' : pushName, profilePicUrl: null, instanceId: inst.id },
  };
}

/** Receipts carry the key Baileys reports: the raw chat JID (the LID for LID chats, in every version). */
export function receiptKey(m: StoredMessage): { id: string; remoteJid: string; fromMe: boolean; participant?: string } {
  const remoteJid = m.key.previousRemoteJid ?? m.key.remoteJid;
  return m.key.participant
    ? { id: m.key.id, remoteJid, fromMe: m.key.fromMe, participant: m.key.participant }
    : { id: m.key.id, remoteJid, fromMe: m.key.fromMe };
}

interface Item {
  kind: 'upsert' | 'contact' | 'receipt';
  row: Row;
  inst: InstanceState;
}

/**
 * Run fn over items with at most `limit` in flight. Every few items the pool yields to the event
 * loop, so a long publish interleaves with socket I/O (broker replies, HTTP requests to the sim)
 * as Evolution's stream of events would, instead of writing everything in one tick.
 */
export async function runPool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      if (i > 0 && i % 128 === 0) await yieldToLoop();
      await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}

export async function publish(ctx: SimContext, messages: StoredMessage[], concurrency = 64): Promise<PublishReport> {
  const rng = ctx.rng.faults;
  const f = ctx.faults;
  const plan: Item[] = [];
  const upserts = new Map<Row, number>();
  let receipts = 0;

  for (const m of messages) {
    const inst = ctx.instances.get(m.instance);
    if (!inst) throw new Error(`unknown instance "${m.instance}"`);
    const row = ctx.store.rowById(m.id) ?? ctx.store.insert(m, inst.id, { omitContextInfo: false });
    const copies = rng.chance(f.dropRate) ? 0 : rng.chance(f.duplicateRate) ? 2 : 1;
    upserts.set(row, copies);
    const group: Item[] = [];
    for (let c = 0; c < copies; c++) group.push({ kind: 'upsert', row, inst });
    if (ctx.contactEvents) group.push({ kind: 'contact', row, inst });
    // Recipients' receipts only exist for own 1:1 messages (groups report per-user receipts,
    // which Evolution does not turn into MESSAGES_UPDATE).
    if (m.key.fromMe && !isGroupJid(m.key.remoteJid)) {
      row.updates.push({ status: 'DELIVERY_ACK' });
      inst.receiptCache.add(`${m.key.id}_DELIVERY_ACK`);
      const rc = rng.chance(f.dropRate) ? 0 : rng.chance(f.duplicateRate) ? 2 : 1;
      for (let c = 0; c < rc; c++) {
        const receipt: Item = { kind: 'receipt', row, inst };
        // Baileys handles messages.update beside the upsert queue, so the receipt can overtake it.
        if (f.receiptBeforeMessage && rng.chance(0.5)) group.unshift(receipt);
        else group.push(receipt);
        receipts++;
      }
    }
    plan.push(...group);
  }
  shuffleWindows(plan, f.reorderWindow, rng);

  const stats: EmitStats = emptyEmitStats();
  await runPool(plan, concurrency, async (item) => {
    await emitItem(ctx, item, stats);
  });
  await ctx.dispatcher.flush();

  let published = 0;
  let dropped = 0;
  let duplicated = 0;
  for (const copies of upserts.values()) {
    if (copies === 0) dropped++;
    else published++;
    if (copies === 2) duplicated++;
  }
  return {
    published,
    dropped,
    duplicated,
    webhookFailures: stats.webhook.failures,
    webhookGaveUp: stats.webhook.gaveUp,
    receipts,
    rabbitmqDropped: stats.rabbit.dropped,
  };
}

async function emitItem(ctx: SimContext, item: Item, stats: EmitStats): Promise<void> {
  const { row, inst } = item;
  const m = row.msg;
  if (item.kind === 'receipt') {
    const data = receiptPayload(receiptKey(m), 'DELIVERY_ACK', row.instanceId, m.id);
    await ctx.dispatcher.emit(inst, EVENT.MESSAGES_UPDATE, data, stats);
    return;
  }
  if (item.kind === 'upsert') {
    await ctx.dispatcher.emit(inst, EVENT.MESSAGES_UPSERT, messageRawFor(ctx, inst, row), stats);
    return;
  }
  // Evolution reads the key after the 2.3.7+ swap here (same object), so the contact is the phone.
  const c = contactEvent(inst, eventKey(m.key, ctx.convention).remoteJid, m.key.fromMe, m.pushName);
  await ctx.dispatcher.emit(inst, c.event, c.data, stats);
}

/** Fisher–Yates inside consecutive windows: order within a window is lost, across windows kept. */
function shuffleWindows<T>(items: T[], window: number, rng: { int(a: number, b: number): number }): void {
  if (window <= 1) return;
  for (let start = 0; start < items.length; start += window) {
    const end = Math.min(items.length, start + window);
    for (let i = end - 1; i > start; i--) {
      const j = rng.int(start, i);
      const tmp = items[i] as T;
      items[i] = items[j] as T;
      items[j] = tmp;
    }
  }
}
