import fc from 'fast-check';
import { type FixtureKind, messageRaw } from '../fixtures/evolution-messages.js';

/**
 * Real payloads (built as Evolution and Chatwoot build them) and the ways a broken sender or an
 * attacker breaks them, for the property tests of every parser and of the webhook routes.
 */
type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const KINDS: FixtureKind[] = [
  'image', 'video', 'audio', 'ptt', 'document', 'documentWithCaption', 'documentUnwrapped', 'sticker', 'ptv', 'ephemeralImage', 'viewOnceImage',
  'location', 'liveLocation', 'contact', 'contactsArray', 'poll', 'reaction', 'listResponse', 'buttonsResponse', 'templateButtonReply',
  'interactiveResponse', 'unknown', 'text', 'reply',
];

const envelope = (event: string, data: unknown): Json => JSON.parse(JSON.stringify({
  event, instance: 'prop', data, destination: 'https://evosync.example.com/webhooks/evolution', date_time: '2026-01-01T00:00:00.000Z',
  sender: '5511900000000@s.whatsapp.net', server_url: 'https://evo.example.com', apikey: 'envelope-apikey-value',
})) as Json;

/** Every message kind in the three LID conventions and in a group, plus receipts, edits, deletes and connection events. */
export function realEvolutionEnvelopes(): Json[] {
  const out: Json[] = [];
  let n = 0;
  for (const kind of KINDS) {
    for (const o of [{ convention: '2.3.4' as const, lid: true }, { convention: '2.3.6' as const, lid: true }, { convention: '2.3.7' as const, lid: true }, { groupSender: 0 }, {}]) {
      n += 1;
      out.push(envelope(n % 2 ? 'messages.upsert' : 'send.message', messageRaw(kind, { id: `PROP${n}`, ts: 1_760_000_000 + n, targetId: 'PROP1', ...o })));
    }
  }
  out.push(envelope('messages.update', { keyId: 'PROP1', remoteJid: '5511987650001@s.whatsapp.net', fromMe: true, participant: null, status: 'READ', instanceId: 'i', messageId: 'm' }));
  out.push(envelope('messages.delete', { id: 'PROP2', remoteJid: '5511987650001@s.whatsapp.net', fromMe: true }));
  out.push(envelope('messages.edited', { key: { id: 'PROP3', remoteJid: '5511987650001@s.whatsapp.net', fromMe: true }, type: 'MESSAGE_EDIT', editedMessage: { conversation: 'fixed' }, timestampMs: '1760000000000' }));
  out.push(envelope('connection.update', { instance: 'prop', state: 'open', statusReason: 200, wuid: '5511900000000@s.whatsapp.net' }));
  return out;
}

/** The reference's agent reply (chatwoot-api.md §6.4), one with files, and a delete. */
export function realChatwootWebhooks(): Json[] {
  const reply = {
    event: 'message_created', id: 4711, content: 'Olá! **Posso ajudar?**', content_type: 'text', message_type: 'outgoing', private: false, source_id: null,
    content_attributes: { in_reply_to: 4700, in_reply_to_external_id: 'WAID:3EB0ABC' }, additional_attributes: {}, created_at: '2026-04-16T13:32:28.123Z',
    account: { id: 1, name: 'Acme' }, inbox: { id: 7, name: 'WhatsApp' }, sender: { id: 3, name: 'Ana', email: 'ana@acme.com', type: 'user' },
    conversation: {
      id: 42, inbox_id: 7, status: 'open', channel: 'Channel::Api',
      contact_inbox: { id: 90, contact_id: 55, inbox_id: 7, source_id: '5511999999999@s.whatsapp.net' },
      meta: { sender: { id: 55, name: 'João', phone_number: '+5511999999999', identifier: '5511999999999@s.whatsapp.net', type: 'contact' } },
      messages: [{ id: 4711, message_type: 1, status: 'sent' }],
    },
  };
  const files = {
    ...reply, id: 4712, content: 'the invoice',
    attachments: [{ id: 9, message_id: 4712, file_type: 'file', account_id: 1, extension: null, data_url: 'https://chat.example.com/rails/active_storage/blobs/redirect/eyJ--abc/invoice.pdf', thumb_url: '', file_size: 2048, content_type: 'application/pdf' }],
  };
  const deleted = { ...reply, event: 'message_updated', id: 4713, content: 'This message was deleted', content_attributes: { deleted: true } };
  return JSON.parse(JSON.stringify([reply, files, deleted])) as Json[];
}

type Op =
  | { op: 'delete' } | { op: 'replace'; value: Json } | { op: 'huge'; length: number } | { op: 'unicode'; value: string }
  | { op: 'deep'; levels: number } | { op: 'protoKey'; name: string } | { op: 'retype' };

export const mutation: fc.Arbitrary<{ at: number; op: Op }> = fc.record({
  at: fc.nat(),
  op: fc.oneof(
    fc.constant<Op>({ op: 'delete' }),
    fc.jsonValue({ maxDepth: 3 }).map((value): Op => ({ op: 'replace', value: value as Json })),
    fc.integer({ min: 1_000, max: 70_000 }).map((length): Op => ({ op: 'huge', length })),
    fc.string({ unit: 'grapheme', maxLength: 40 }).map((s): Op => ({ op: 'unicode', value: `${s}\u0000\u202e\ud83d\ude00\u00e9` })),
    fc.integer({ min: 10, max: 120 }).map((levels): Op => ({ op: 'deep', levels })),
    fc.constantFrom('__proto__', 'constructor', 'toString', 'prototype').map((name): Op => ({ op: 'protoKey', name })),
    fc.constant<Op>({ op: 'retype' }),
  ),
});

/** One of the given payloads with 1–4 mutations applied, as it would arrive on the wire (re-parsed JSON). */
export function mutatedPayload(payloads: readonly unknown[]): fc.Arbitrary<unknown> {
  return fc.tuple(fc.constantFrom(...payloads), fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([base, ops]) => {
    let value = JSON.parse(JSON.stringify(base)) as Json;
    for (const m of ops) value = apply(value, m.at, m.op);
    return JSON.parse(JSON.stringify(value)) as unknown;
  });
}

/** Serialised mutated payloads, for routes that take the raw body. */
export function mutatedBody(payloads: readonly unknown[]): fc.Arbitrary<string> {
  return mutatedPayload(payloads).map((v) => JSON.stringify(v) ?? 'null');
}

function paths(v: Json, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(prefix);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...prefix, i], out));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) paths(x, [...prefix, k], out);
  return out;
}

function apply(root: Json, at: number, op: Op): Json {
  const all = paths(root);
  const path = all[at % all.length] ?? [];
  const current = get(root, path);
  let next: Json | undefined;
  switch (op.op) {
    case 'delete': next = undefined; break;
    case 'replace': next = op.value; break;
    case 'huge': next = 'x'.repeat(op.length); break;
    case 'unicode': next = op.value; break;
    case 'deep': {
      let nested: Json = current ?? null;
      for (let i = 0; i < op.levels; i++) nested = i % 2 ? [nested] : { n: nested };
      next = nested;
      break;
    }
    case 'protoKey': {
      if (current && typeof current === 'object' && !Array.isArray(current)) {
        // An own property, as JSON.parse makes one: assignment would set the prototype instead.
        Object.defineProperty(current, op.name, { value: { caption: 'p', key: { id: 'p' } }, enumerable: true, configurable: true, writable: true });
        return root;
      }
      next = current;
      break;
    }
    case 'retype':
      next = typeof current === 'number' ? String(current) : typeof current === 'string' ? current.length : Array.isArray(current) ? Object.fromEntries(current.map((x, i) => [String(i), x])) : current && typeof current === 'object' ? Object.values(current) : current === null ? {} : null;
      break;
  }
  if (path.length === 0) return next ?? null;
  const parent = get(root, path.slice(0, -1));
  const key = path[path.length - 1] as string | number;
  if (Array.isArray(parent)) {
    if (next === undefined) parent.splice(key as number, 1);
    else parent[key as number] = next;
  } else if (parent && typeof parent === 'object') {
    if (next === undefined) delete parent[key as string];
    else Object.defineProperty(parent, key as string, { value: next, enumerable: true, configurable: true, writable: true });
  }
  return root;
}

function get(v: Json, path: readonly (string | number)[]): Json | undefined {
  let cur: Json | undefined = v;
  for (const k of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = Array.isArray(cur) ? cur[k as number] : Object.hasOwn(cur, k) ? cur[k as string] : undefined;
  }
  return cur;
}
