/**
 * Non-API routes: the `/_sim/*` control plane (never faulted, authenticated or throttled) for
 * tests whose system under test runs in another process, and the ActiveStorage-like blob
 * routes behind attachment data_url (a 302 redirect, then the bytes — as on real Chatwoot).
 */
import type { FastifyInstance } from 'fastify';
import { ParsedBody } from './body.js';
import { castBool, castString, isPlainObject, rubyToI } from './coerce.js';
import type { SimContext } from './context.js';
import type { ChatwootFaults, ChatwootSim } from './types.js';

export interface SimControl {
  sim: () => ChatwootSim;
  webhooksIdle: () => Promise<void>;
}

const bodyOf = (body: unknown): Record<string, unknown> => (body instanceof ParsedBody ? body.params : {});

export function registerSimRoutes(app: FastifyInstance, ctx: SimContext, control: SimControl): void {
  app.get('/_sim/snapshot', async () => control.sim().snapshot());
  app.get('/_sim/stats', async () => control.sim().stats());
  app.post('/_sim/stats/reset', async () => {
    control.sim().resetStats();
    return { ok: true };
  });
  app.get('/_sim/faults', async () => control.sim().faults());
  app.post('/_sim/faults', async (req) => {
    control.sim().setFaults(bodyOf(req.body) as Partial<ChatwootFaults>);
    return control.sim().faults();
  });
  app.post('/_sim/inbox-webhook', async (req) => {
    const body = bodyOf(req.body);
    const secret = 'secret' in body ? castString(body.secret) : undefined;
    control.sim().setInboxWebhook(castString(body.url), secret);
    return { ok: true };
  });
  app.post('/_sim/agent-reply', async (req, reply) => {
    const body = bodyOf(req.body);
    try {
      const inReplyTo = body.in_reply_to === undefined ? undefined : rubyToI(body.in_reply_to);
      const opts: { private?: boolean; inReplyTo?: number } = { private: castBool(body.private) ?? false };
      if (inReplyTo !== undefined) opts.inReplyTo = inReplyTo;
      return await control.sim().agentReply(rubyToI(body.conversation_id), castString(body.content) ?? '', opts);
    } catch (err) {
      return reply.code(422).send({ error: (err as Error).message });
    }
  });
  app.get('/_sim/webhooks/idle', async () => {
    await control.webhooksIdle();
    return { ok: true };
  });
  app.get('/_sim/config', async () => {
    const sim = control.sim();
    return { url: sim.url, accountId: sim.accountId, inboxId: sim.inboxId, token: sim.token, agentToken: sim.agentToken, botToken: sim.botToken };
  });

  app.get('/rails/active_storage/blobs/redirect/:signed_id/:filename', async (req, reply) => {
    const { signed_id: signedId = '', filename = '' } = req.params as Record<string, string | undefined>;
    const blob = ctx.store.attachmentsBySignedId.get(signedId);
    if (!blob) return reply.code(404).send({ status: 404, error: 'Not Found' });
    return reply
      .code(302)
      .header('location', `${ctx.storageUrl?.() ?? ctx.baseUrl()}/rails/active_storage/disk/${signedId}/${encodeURIComponent(filename)}`)
      .send('');
  });

  app.get('/rails/active_storage/disk/:signed_id/:filename', async (req, reply) => {
    const { signed_id: signedId = '' } = req.params as Record<string, string | undefined>;
    const blob = ctx.store.attachmentsBySignedId.get(signedId);
    if (!blob) return reply.code(404).send({ status: 404, error: 'Not Found' });
    return reply
      .code(200)
      .header('content-type', blob.contentType)
      .header('content-disposition', `inline; filename="${blob.fileName.replace(/"/g, '%22')}"`)
      .send(blob.data);
  });
}

export function sanitizeFaults(current: ChatwootFaults, partial: unknown): ChatwootFaults {
  if (!isPlainObject(partial)) return current;
  const next = { ...current };
  const rate = (v: unknown): number | undefined => {
    const n = typeof v === 'string' ? Number(v) : v;
    return typeof n === 'number' && Number.isFinite(n) ? Math.min(1, Math.max(0, n)) : undefined;
  };
  const ms = (v: unknown): number | undefined => {
    const n = typeof v === 'string' ? Number(v) : v;
    return typeof n === 'number' && Number.isFinite(n) ? Math.max(0, n) : undefined;
  };
  next.errorRate = rate(partial.errorRate) ?? next.errorRate;
  next.timeoutAfterCommitRate = rate(partial.timeoutAfterCommitRate) ?? next.timeoutAfterCommitRate;
  next.webhookDuplicateRate = rate(partial.webhookDuplicateRate) ?? next.webhookDuplicateRate;
  next.hangMs = ms(partial.hangMs) ?? next.hangMs;
  next.latencyMs = ms(partial.latencyMs) ?? next.latencyMs;
  if ('outage' in partial) next.outage = castBool(partial.outage) ?? false;
  if ('webhookShuffle' in partial) next.webhookShuffle = castBool(partial.webhookShuffle) ?? false;
  if ('rateLimits' in partial) next.rateLimits = castBool(partial.rateLimits) ?? false;
  return next;
}
