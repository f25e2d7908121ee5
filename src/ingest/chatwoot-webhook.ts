import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { verifyChatwootWebhook } from '../chatwoot/webhook-auth.js';
import { deleteItem, replyItems } from '../chatwoot/webhook-items.js';
import { type ChatwootWebhook, classifyChatwootWebhook, type MessageFacts } from '../chatwoot/webhook-payload.js';
import { resolveTarget } from '../chatwoot/webhook-target.js';
import type { Config } from '../config/config.js';
import { replyKey } from '../domain/agent-reply.js';
import type { LaneItem } from '../domain/lane-item.js';
import { coerceError } from '../errors.js';
import type { Clock } from '../lib/clock.js';
import { jsonDeeperThan, jsonErrorReason, MAX_JSON_DEPTH } from '../lib/json-guard.js';
import type { Ledger } from '../ledger/ledger.js';
import { RecentIds } from './delivery-ids.js';
import { bodySize } from './evolution-webhook.js';
import type { Intake } from './intake.js';
import { safeEqual } from './token.js';

export interface ChatwootWebhookOptions {
  config: Config;
  intake: Intake;
  ledger: Ledger;
  clock: Clock;
  isShuttingDown(): boolean;
  /** Wakes the lanes when a failed reply is put back (Chatwoot's Retry). */
  notify(): void;
}

/**
 * Largest Chatwoot webhook body. They carry files as URLs, never inline: a message's content
 * (150,000 characters at most in Chatwoot) plus its conversation stays far below this.
 */
export const CHATWOOT_WEBHOOK_MAX_BYTES = 1024 * 1024;

interface Query {
  token?: string;
  instance?: string;
}

/**
 * `POST /webhooks/chatwoot`: the API inbox callback (or an account webhook). Chatwoot waits 5 s,
 * never retries, and marks the message failed on anything but 2xx (reference §6.5) — including the
 * messages evosync itself created — so every authenticated event is answered 2xx as soon as what it
 * asks for is committed to the ledger; the send happens later, in the chat's lane.
 */
export function chatwootWebhook(app: FastifyInstance, opts: ChatwootWebhookOptions): void {
  const seen = new RecentIds();
  const { config, intake, ledger, clock } = opts;

  const handler = async (req: FastifyRequest<{ Querystring: Query; Params: { token?: string } }>, reply: FastifyReply) => {
    if (opts.isShuttingDown()) return reply.code(503).header('connection', 'close').send({ error: 'SHUTTING_DOWN', message: 'evosync is shutting down; retry later' });
    const raw = typeof req.body === 'string' ? req.body : Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
    const h = req.headers;
    const auth = verifyChatwootWebhook(
      { secrets: config.chatwootWebhook.secrets, token: config.chatwootWebhook.token, windowS: config.chatwootWebhook.signatureWindowS },
      { signature: header(h['x-chatwoot-signature']), timestamp: header(h['x-chatwoot-timestamp']), token: oneString(req.params.token ?? req.query.token) },
      raw,
      clock.now(),
    );
    // Not stored: an unauthenticated caller must not be able to fill the ledger.
    if (!auth.ok) return reply.code(401).send({ error: auth.code, message: auth.reason });

    const delivery = header(h['x-chatwoot-delivery']);
    if (delivery && seen.has(delivery)) return reply.code(200).send({ duplicate: true });

    if (jsonDeeperThan(raw, MAX_JSON_DEPTH)) {
      const reason = `body nests deeper than ${MAX_JSON_DEPTH} levels`;
      await opts.intake.refuse({ source: 'chatwoot', code: 'PAYLOAD_TOO_DEEP', reason, instance: null, event: null, body: raw });
      return reply.code(400).send({ error: 'PAYLOAD_TOO_DEEP', message: reason });
    }
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch (error) {
      await opts.intake.refuse({ source: 'chatwoot', code: 'PAYLOAD_NOT_JSON', reason: `body is not JSON: ${jsonErrorReason(error)}`, instance: null, event: null, body: raw });
      return reply.code(400).send({ error: 'PAYLOAD_NOT_JSON', message: 'request body is not valid JSON' });
    }
    try {
      const result = await accept(classifyChatwootWebhook(body), raw, oneString(req.query.instance));
      if (delivery) seen.add(delivery);
      return reply.code(200).send(result);
    } catch (error) {
      req.log.error({ err: coerceError(error) }, 'could not commit Chatwoot webhook');
      return reply.code(503).send({ error: 'LEDGER_UNAVAILABLE', message: 'event not stored' });
    }
  };

  async function accept(w: ChatwootWebhook, raw: string, queryInstance: string | null): Promise<Record<string, unknown>> {
    if (w.kind === 'ignored') return { ignored: true, reason: w.reason };
    if (w.kind === 'invalid') {
      // Kept for operators, and still answered 2xx: a 4xx would only make Chatwoot paint the message red.
      await intake.refuse({ source: 'chatwoot', code: 'CHATWOOT_PAYLOAD_INVALID', reason: w.reason, instance: null, event: w.event, body: raw });
      return { refused: true, reason: w.reason };
    }
    const facts = w.facts;
    const target = await resolveTarget(config, ledger, facts, queryInstance);
    if (target.kind === 'not_synced') return { ignored: true, reason: target.reason };
    if (target.kind === 'unresolved') {
      await intake.refuse({ source: 'chatwoot', code: 'CHAT_UNRESOLVED', reason: target.reason, instance: queryInstance, event: facts.event, body: raw });
      return { refused: true, reason: target.reason };
    }
    const now = clock.now();
    if (w.kind === 'deleted') return commit([deleteItem(facts, target.instance, target.chat, now)], raw);
    if (w.kind === 'reply') return commit(replyItems(facts, target.instance, target.chat, now), raw);
    return updated(facts, target.instance, target.chat, raw, now);
  }

  /**
   * A message_updated without an error on it. For a reply evosync gave up on (dead), it is the
   * agent's "Retry": put it back, once — the second message_updated of the same click finds it
   * pending. For a reply never seen (its message_created was lost), it is sent now.
   */
  async function updated(facts: MessageFacts, instance: string, chat: string, raw: string, now: number): Promise<Record<string, unknown>> {
    const items = replyItems(facts, instance, chat, now);
    const first = await ledger.getMessage(instance, replyKey(facts.cwMessageId));
    if (first) {
      // Chatwoot's Retry wipes content_attributes, so the parts are the ones recorded, not re-derived.
      const parts = [first, ...(await Promise.all(items.slice(1).map((i) => ledger.getMessage(instance, i.waId))))];
      let retried = 0;
      for (const row of parts) if (row && row.state === 'dead' && (await ledger.retryDead(row.id, now))) retried += 1;
      if (retried > 0) opts.notify();
      return retried > 0 ? { retried } : { ignored: true, reason: 'status or attributes of a known reply changed' };
    }
    if (items.length === 0) return { ignored: true, reason: 'nothing to send' };
    return commit(items, raw);
  }

  async function commit(items: LaneItem[], raw: string): Promise<Record<string, unknown>> {
    const first = items[0];
    if (!first) return { ignored: true, reason: 'nothing to send' };
    const r = await intake.accept({ kind: 'messages', instance: first.instance, event: first.event, messages: items, skipped: [] }, 'webhook', raw);
    if (r.status === 'ignored') return { ignored: true, reason: r.reason };
    return { accepted: r.inserted, duplicates: r.duplicates };
  }

  /**
   * Over the limit: a signature cannot be checked without the body, so only a caller holding the
   * legacy URL token gets the refusal kept; everyone is answered 413.
   */
  const errorHandler = async (error: FastifyError, req: FastifyRequest<{ Querystring: Query; Params: { token?: string } }>, reply: FastifyReply) => {
    if (error.code !== 'FST_ERR_CTP_BODY_TOO_LARGE') throw error;
    const token = oneString(req.params.token ?? req.query.token);
    const reason = `body of ${bodySize(req)} is over the limit of ${CHATWOOT_WEBHOOK_MAX_BYTES} bytes for Chatwoot webhooks`;
    if (config.chatwootWebhook.token && typeof token === 'string' && safeEqual(token, config.chatwootWebhook.token)) {
      await intake.refuse({ source: 'chatwoot', code: 'PAYLOAD_TOO_LARGE', reason, instance: null, event: null, body: '' });
    }
    return reply.code(413).send({ error: 'PAYLOAD_TOO_LARGE', message: reason });
  };
  const route = { bodyLimit: CHATWOOT_WEBHOOK_MAX_BYTES, errorHandler };
  app.post('/webhooks/chatwoot', route, handler);
  app.post('/webhooks/chatwoot/t/:token', route, handler);
}

/** `?token=a&token=b` parses to an array, which no comparison or look-up may receive. */
function oneString(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

function header(v: string | string[] | undefined): string | null {
  return typeof v === 'string' ? v : Array.isArray(v) ? (v[0] ?? null) : null;
}
