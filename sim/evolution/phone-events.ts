/**
 * What happens on the WhatsApp side of an instance: connection changes, receipts, and a contact
 * revoking or editing a message on the phone. Each reproduces the events (and the row changes)
 * of Evolution's connectionUpdate / messages.update / messages.upsert(protocolMessage) handlers.
 */
import type { SimContext } from './context.js';
import { EVENT } from './events.js';
import type { InstanceState } from './instances.js';
import { connectionPayload, protocolMessagePayload, receiptPayload } from './message-raw.js';
import { receiptKey } from './publisher.js';
import type { Row } from './store.js';
import type { ConnectionState, MessageKey } from './types.js';
import { isGroupJid } from './wa-ids.js';

/** DisconnectReason codes after which Evolution does not reconnect (loggedOut, forbidden, 402, 406). */
const FINAL_CLOSE = new Set([401, 403, 402, 406]);

export async function setConnection(ctx: SimContext, inst: InstanceState, state: ConnectionState, statusReason?: number): Promise<void> {
  const emit = (event: string, data: unknown): Promise<unknown> => ctx.dispatcher.emit(inst, event, data);
  const identity = { name: inst.name, wuid: inst.wuid, profileName: inst.profileName, profilePictureUrl: inst.profilePicUrl };
  inst.updatedAt = new Date(ctx.clock()).toISOString();
  if (state === 'open' || state === 'connecting') {
    inst.connection = state;
    inst.statusReason = 200;
    await emit(EVENT.CONNECTION_UPDATE, connectionPayload(identity, state, 200));
    return;
  }
  const code = statusReason ?? 401;
  if (!FINAL_CLOSE.has(code)) {
    // A transient close: Evolution reconnects at once and only `connecting` (then `open`) is seen.
    inst.connection = 'connecting';
    inst.statusReason = 200;
    await emit(EVENT.CONNECTION_UPDATE, connectionPayload(identity, 'connecting', 200));
    return;
  }
  const at = new Date(ctx.clock());
  const lastDisconnect = {
    error: { data: null, isBoom: true, isServer: false, output: { statusCode: code, payload: { statusCode: code, error: 'Unauthorized', message: 'Connection Failure' }, headers: {} } },
    date: at.toISOString(),
  };
  inst.connection = 'close';
  inst.statusReason = code;
  inst.disconnectionAt = at.toISOString();
  inst.disconnectionReasonCode = code;
  inst.disconnectionObject = JSON.stringify(lastDisconnect);
  // STATUS_INSTANCE, then the logout handler's LOGOUT_INSTANCE (data null), then the close itself;
  // none awaited by Evolution, so all three are in flight together.
  await Promise.all([
    emit(EVENT.STATUS_INSTANCE, {
      instance: inst.name,
      status: 'closed',
      disconnectionAt: at.toISOString(),
      disconnectionReasonCode: code,
      disconnectionObject: inst.disconnectionObject,
    }),
    emit(EVENT.LOGOUT_INSTANCE, null),
    emit(EVENT.CONNECTION_UPDATE, connectionPayload(identity, 'close', code)),
  ]);
}

/**
 * A receipt from Baileys' messages.update. Skipped when the message is not stored (Evolution looks
 * it up first) or when the same (id, status) was already seen (its 30-minute dedupe cache).
 */
export async function receipt(ctx: SimContext, inst: InstanceState, keyId: string, status: string): Promise<void> {
  const row = ctx.store.byKeyId(inst.name, keyId);
  if (!row) return;
  const cacheKey = `${keyId}_${status}`;
  if (inst.receiptCache.has(cacheKey)) return;
  inst.receiptCache.add(cacheKey);
  if (!row.msg.key.fromMe && row.msg.status !== status) row.msg.status = status;
  row.updates.push({ status });
  await ctx.dispatcher.emit(inst, EVENT.MESSAGES_UPDATE, receiptPayload(receiptKey(row.msg), status, row.instanceId, row.msg.id));
}

/**
 * The key a protocolMessage carries: written by the sender's phone about its own message, so it is
 * fromMe:true and, for a contact's message, points at OUR jid (inference from Baileys, which
 * forwards protocolMessage.key untouched).
 */
function senderSideKey(inst: InstanceState, row: Row): { remoteJid: string; fromMe: boolean; id: string; participant?: string } {
  const k = row.msg.key;
  if (isGroupJid(k.remoteJid) || k.fromMe) return { remoteJid: k.previousRemoteJid ?? k.remoteJid, fromMe: true, id: k.id };
  const lidChat = (k.previousRemoteJid ?? k.remoteJid).endsWith('@lid');
  return { remoteJid: lidChat ? inst.lid : inst.wuid, fromMe: true, id: k.id };
}

/** The raw Baileys key of a stored message (undoing the 2.3.4 rewrite, dropping `deleted`). */
function rawKey(k: MessageKey): Record<string, unknown> {
  const { deleted: _deleted, senderPn: _pn, previousRemoteJid, ...rest } = k;
  return previousRemoteJid ? { ...rest, remoteJid: previousRemoteJid } : rest;
}

/** A revoke on the phone: MESSAGES_EDITED (the protocolMessage), then MESSAGES_DELETE (the key). */
export async function remoteRevoke(ctx: SimContext, inst: InstanceState, keyId: string): Promise<void> {
  const row = ctx.store.byKeyId(inst.name, keyId);
  if (!row) return;
  await ctx.dispatcher.emit(inst, EVENT.MESSAGES_EDITED, protocolMessagePayload(senderSideKey(inst, row), 'REVOKE'));
  row.updates.push({ status: 'DELETED' });
  await ctx.dispatcher.emit(inst, EVENT.MESSAGES_DELETE, rawKey(row.msg.key));
}

/** An edit on the phone: MESSAGES_EDITED (awaited), then the row rewritten with status EDITED. */
export async function remoteEdit(ctx: SimContext, inst: InstanceState, keyId: string, text: string): Promise<void> {
  const row = ctx.store.byKeyId(inst.name, keyId);
  if (!row) return;
  const nowMs = ctx.clock();
  const edited = { conversation: text };
  await ctx.dispatcher.emit(
    inst,
    EVENT.MESSAGES_EDITED,
    protocolMessagePayload(senderSideKey(inst, row), 'MESSAGE_EDIT', edited, nowMs),
  );
  row.msg.message = edited;
  row.msg.messageTimestamp = Math.floor(nowMs / 1000);
  row.msg.status = 'EDITED';
  row.updates.push({ status: 'EDITED' });
  ctx.store.touch(inst.name);
}
