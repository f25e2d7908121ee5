/**
 * createEvolutionSim(): wires the context, the HTTP server and the transports into the public
 * EvolutionSim object. Setters here write the same rows the REST endpoints write.
 */
import { createContext, nowIso, requireInstance } from './context.js';
import { GLOBAL_EVENT_KEYS, expandEvents } from './events.js';
import { registerChatRoutes } from './http/chat-routes.js';
import { registerConfigRoutes } from './http/config-routes.js';
import { registerMessageRoutes } from './http/message-routes.js';
import { createApp } from './http/server.js';
import { createInstance, upsertRabbitmqRow, upsertWebhookRow, webhookTargetInput } from './instances.js';
import * as phone from './phone-events.js';
import { publish } from './publisher.js';
import { RabbitTransport } from './rabbitmq.js';
import { generate } from './traffic.js';
import type { EvolutionSim, EvolutionSimOptions } from './types.js';

export async function createEvolutionSim(opts: EvolutionSimOptions = {}): Promise<EvolutionSim> {
  const clock = opts.clock ?? Date.now;
  const ctx = createContext({
    seed: opts.seed ?? 1,
    apiKey: opts.apiKey ?? 'evo-global-key',
    convention: opts.lidConvention ?? '2.3.6',
    serverUrl: opts.serverUrl ?? '',
    clock,
    log: opts.log ?? (() => undefined),
    exposeApiKey: opts.exposeApiKey ?? true,
    contactEvents: opts.contactEvents ?? true,
    chatwootEnabled: opts.chatwootEnabled ?? true,
    logicalDelete: opts.logicalDelete ?? true,
    saveNewMessages: opts.saveNewMessages ?? true,
  });
  for (const name of opts.instances ?? ['inst1']) {
    ctx.instances.set(name, createInstance(name, ctx.rng.ids, ctx.cuid, nowIso(ctx)));
  }

  const app = createApp();
  registerConfigRoutes(app, ctx);
  registerChatRoutes(app, ctx);
  registerMessageRoutes(app, ctx);
  const host = opts.host ?? '127.0.0.1';
  await app.listen({ port: opts.port ?? 0, host });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : (opts.port ?? 0);
  const url = `http://${host}:${port}`;
  if (!opts.serverUrl) ctx.serverUrl = url;

  const sim: EvolutionSim = {
    url,
    apiKey: ctx.apiKey,
    instanceToken: (instance) => requireInstance(ctx, instance).token,
    instanceId: (instance) => requireInstance(ctx, instance).id,
    media: {
      put: (id, bytes) => ctx.media.put(id, bytes),
      expire: (id) => ctx.media.expire(id),
      failNext: (id, times, status) => ctx.media.failNext(id, times, status),
    },
    generate: (spec) => generate(ctx, spec),
    publish: (messages, o) => publish(ctx, messages, o?.concurrency),
    async run(spec, o) {
      const messages = generate(ctx, spec);
      return { messages, report: await publish(ctx, messages, o?.concurrency) };
    },
    async emit(instance, event, data) {
      await ctx.dispatcher.emit(requireInstance(ctx, instance), event, data);
      await ctx.dispatcher.flush();
    },
    setWebhook(instance, target) {
      const inst = requireInstance(ctx, instance);
      upsertWebhookRow(inst, webhookTargetInput(target, inst), ctx.cuid, nowIso(ctx));
    },
    setGlobalWebhook(target) {
      ctx.dispatcher.globalWebhook = target
        ? { url: target.url, byEvents: target.byEvents ?? false, events: expandEvents(target.events, GLOBAL_EVENT_KEYS) }
        : null;
    },
    async setRabbitmq(o) {
      const old = ctx.dispatcher.rabbit;
      ctx.dispatcher.rabbit = null;
      await old?.close();
      if (!o) {
        for (const inst of ctx.instances.values()) inst.rabbitmq = null;
        return;
      }
      // Per-instance settings survive a switch to global mode: both may be active, as in Evolution.
      const prevGlobal = old?.config.global ?? null;
      const transport = new RabbitTransport(
        {
          uri: o.uri,
          exchangeName: o.exchangeName ?? 'evolution_exchange',
          global: o.mode === 'global' ? { prefixKey: o.prefixKey, events: expandEvents(o.events, GLOBAL_EVENT_KEYS) } : prevGlobal,
          reconnectBaseMs: o.reconnectBaseMs ?? 5_000,
          maxReconnectAttempts: o.maxReconnectAttempts ?? 10,
        },
        ctx.log,
      );
      if (o.mode === 'instance') {
        for (const inst of ctx.instances.values()) {
          upsertRabbitmqRow(inst, { enabled: true, events: o.events ?? [] }, ctx.cuid, nowIso(ctx));
        }
      }
      ctx.dispatcher.rabbit = transport;
      try {
        await transport.connect();
      } catch (err) {
        transport.startReconnecting();
        throw err;
      }
    },
    setFaults(partial) {
      Object.assign(ctx.faults, partial);
    },
    setWebhookRetry(o) {
      const p = ctx.dispatcher.webhook.policy;
      ctx.dispatcher.webhook.policy = {
        ...p,
        maxAttempts: o.maxAttempts ?? p.maxAttempts,
        initialDelayMs: o.initialDelayMs ?? p.initialDelayMs,
        maxDelayMs: o.maxDelayMs ?? p.maxDelayMs,
        timeoutMs: o.timeoutMs ?? p.timeoutMs,
      };
    },
    async setConnection(instance, state, o) {
      await phone.setConnection(ctx, requireInstance(ctx, instance), state, o?.statusReason);
      await ctx.dispatcher.flush();
    },
    stored: (instance) => ctx.store.rows(instance).map((r) => r.msg),
    sent: (instance) => ctx.store.rows(instance).filter((r) => r.sent).map((r) => r.msg),
    setSendFaults(partial) {
      const next = { ...ctx.sendFaults };
      for (const [k, v] of Object.entries(partial)) if (v !== undefined) (next as Record<string, unknown>)[k] = v;
      ctx.sendFaults = next;
    },
    async receipt(instance, keyId, status) {
      await phone.receipt(ctx, requireInstance(ctx, instance), keyId, status);
      await ctx.dispatcher.flush();
    },
    async remoteRevoke(instance, keyId) {
      await phone.remoteRevoke(ctx, requireInstance(ctx, instance), keyId);
      await ctx.dispatcher.flush();
    },
    async remoteEdit(instance, keyId, text) {
      await phone.remoteEdit(ctx, requireInstance(ctx, instance), keyId, text);
      await ctx.dispatcher.flush();
    },
    async close() {
      await ctx.dispatcher.webhook.close();
      await app.close();
      await ctx.dispatcher.rabbit?.close();
      await Promise.allSettled([...ctx.background]);
    },
  };
  return sim;
}
