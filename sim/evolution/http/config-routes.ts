/**
 * Instance state and integration config: /instance/connectionState, /instance/fetchInstances,
 * /webhook/set|find, /rabbitmq/set|find, /chatwoot/set|find. The stored rows are the ones the
 * sim's own setters write (instances.ts), so REST and code configure the same thing.
 */
import type { FastifyInstance } from 'fastify';
import { nowIso, type SimContext } from '../context.js';
import { INSTANCE_EVENT_KEYS } from '../events.js';
import { instanceInfo, upsertRabbitmqRow, upsertWebhookRow, type InstanceState } from '../instances.js';
import { badRequest, plainError } from './errors.js';
import { bodyOf, route } from './server.js';
import { isURL, validateBody } from './validate.js';

type Json = Record<string, unknown>;

function eventsOf(v: unknown, path: string): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) throw badRequest(`${path} is not of a type(s) array`);
  const bad = v.filter((e) => !(INSTANCE_EVENT_KEYS as readonly unknown[]).includes(e));
  if (bad.length > 0) throw badRequest(...bad.map((_, i) => `${path}[${i}] is not one of enum values: ${INSTANCE_EVENT_KEYS.join(',')}`));
  return v as string[];
}

function chatwootView(ctx: SimContext, inst: InstanceState, row: Json): Json {
  return { ...row, webhook_url: `${ctx.serverUrl}/chatwoot/webhook/${encodeURIComponent(inst.name)}` };
}

export function registerConfigRoutes(app: FastifyInstance, ctx: SimContext): void {
  route(app, ctx, 'GET', '/instance/connectionState/:instanceName', 200, async (_req, _reply, inst) => ({
    instance: { instanceName: (inst as InstanceState).name, state: (inst as InstanceState).connection },
  }));

  route(
    app,
    ctx,
    'GET',
    '/instance/fetchInstances',
    200,
    async (req, _reply, byToken) => {
      const q = req.query as { instanceName?: string; instanceId?: string };
      let list = byToken ? [byToken] : [...ctx.instances.values()];
      if (q.instanceName) list = list.filter((i) => i.name === q.instanceName);
      if (q.instanceId) list = list.filter((i) => i.id === q.instanceId);
      return list.map((i) => instanceInfo(i, ctx.saveNewMessages ? ctx.store.count(i.name) : 0));
    },
    'fetchInstances',
  );

  route(app, ctx, 'POST', '/webhook/set/:instanceName', 201, async (req, _reply, inst) => {
    const body = bodyOf(req);
    const w = body['webhook'];
    if (w === undefined) throw badRequest('instance requires property "webhook"');
    if (typeof w !== 'object' || w === null || Array.isArray(w)) throw badRequest('webhook is not of a type(s) object');
    const web = w as Json;
    validateBody(web, {
      enabled: { type: 'boolean', required: true },
      url: { type: 'string', required: true, notEmpty: true },
      headers: { type: 'object' },
      byEvents: { type: 'boolean' },
      base64: { type: 'boolean' },
    });
    return upsertWebhookRow(
      inst as InstanceState,
      {
        enabled: web['enabled'] as boolean,
        url: web['url'] as string,
        headers: (web['headers'] as Record<string, string> | undefined) ?? null,
        byEvents: web['byEvents'] as boolean | undefined,
        base64: web['base64'] as boolean | undefined,
        events: eventsOf(web['events'], 'webhook.events') ?? [],
      },
      ctx.cuid,
      nowIso(ctx),
    );
  });
  route(app, ctx, 'GET', '/webhook/find/:instanceName', 200, async (_req, _reply, inst) => (inst as InstanceState).webhook);

  // RABBITMQ_ENABLED=false: the controller returns undefined (empty 201) and stores nothing.
  route(app, ctx, 'POST', '/rabbitmq/set/:instanceName', 201, async (req, _reply, inst) => {
    if (!ctx.dispatcher.rabbit) return undefined;
    const r = bodyOf(req)['rabbitmq'];
    if (r === undefined) throw plainError("Cannot set properties of undefined (setting 'events')");
    if (typeof r !== 'object' || r === null || Array.isArray(r)) throw badRequest('rabbitmq is not of a type(s) object');
    const rb = r as Json;
    validateBody(rb, { enabled: { type: 'boolean', required: true } });
    return upsertRabbitmqRow(
      inst as InstanceState,
      { enabled: rb['enabled'] as boolean, events: eventsOf(rb['events'], 'rabbitmq.events') ?? [] },
      ctx.cuid,
      nowIso(ctx),
    );
  });
  route(app, ctx, 'GET', '/rabbitmq/find/:instanceName', 200, async (_req, _reply, inst) =>
    ctx.dispatcher.rabbit ? (inst as InstanceState).rabbitmq : undefined,
  );

  route(app, ctx, 'POST', '/chatwoot/set/:instanceName', 201, async (req, _reply, inst) => {
    const i = inst as InstanceState;
    if (!ctx.chatwootEnabled) throw badRequest('Chatwoot is disabled');
    const data = { ...bodyOf(req) };
    validateBody(data, {
      enabled: { type: 'boolean', required: true },
      accountId: { type: 'string', required: true },
      token: { type: 'string', required: true },
      url: { type: 'string', required: true },
      signMsg: { type: 'boolean', required: true },
      reopenConversation: { type: 'boolean', required: true },
      conversationPending: { type: 'boolean', required: true },
    });
    if (data['enabled']) {
      const url = String(data['url']);
      if (!isURL(url) && !/^https?:\/\/[^/\s]+/.test(url)) throw badRequest('url is not valid');
      if (!data['accountId']) throw badRequest('accountId is required');
      if (!data['token']) throw badRequest('token is required');
      if (data['signMsg'] === false) data['signDelimiter'] = null;
    }
    if (!data['nameInbox']) data['nameInbox'] = i.name;
    // Stored only: this fake does not run the built-in integration (no posts to Chatwoot).
    i.chatwoot = {
      enabled: data['enabled'],
      accountId: data['accountId'],
      token: data['token'],
      url: data['url'],
      nameInbox: data['nameInbox'],
      signMsg: data['signMsg'],
      signDelimiter: data['signMsg'] ? (data['signDelimiter'] ?? null) : null,
      reopenConversation: data['reopenConversation'],
      conversationPending: data['conversationPending'],
      mergeBrazilContacts: data['mergeBrazilContacts'] ?? false,
      importContacts: data['importContacts'] ?? false,
      importMessages: data['importMessages'] ?? false,
      daysLimitImportMessages: data['daysLimitImportMessages'] ?? null,
      organization: data['organization'] ?? null,
      logo: data['logo'] ?? null,
      ignoreJids: Array.isArray(data['ignoreJids']) ? data['ignoreJids'].map(String) : [],
    };
    return chatwootView(ctx, i, data);
  });
  route(app, ctx, 'GET', '/chatwoot/find/:instanceName', 200, async (_req, _reply, inst) => {
    const i = inst as InstanceState;
    if (!ctx.chatwootEnabled) throw badRequest('Chatwoot is disabled');
    if (!i.chatwoot) return { enabled: false, url: '', accountId: '', token: '', signMsg: false, nameInbox: '', webhook_url: '' };
    return chatwootView(ctx, i, i.chatwoot);
  });
}
