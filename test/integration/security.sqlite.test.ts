import { createHmac } from 'node:crypto';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { createChatwootSim, type ChatwootSim } from '../../sim/chatwoot/index.js';
import { createEvolutionSim } from '../../sim/evolution/index.js';
import { createEvosync, type Evosync } from '../../src/app.js';
import { ChatwootApi } from '../../src/chatwoot/api.js';
import { fetchAttachment } from '../../src/chatwoot/attachment-fetch.js';
import { loadConfig } from '../../src/config/load.js';
import { replyKey } from '../../src/domain/agent-reply.js';
import { ConfigError } from '../../src/errors.js';
import { redactSecrets } from '../../src/ingest/intake.js';
import { createLogger } from '../../src/lib/logger.js';
import { conversationFor, until } from '../helpers/agent-replies.js';
import { mutatedBody, realChatwootWebhooks, realEvolutionEnvelopes } from '../helpers/payload-mutations.js';
import { tempSqliteUrl } from '../helpers/services.js';

/** Distinctive values of every secret evosync holds; none may appear in a log line, a metric, a reply or a stored body. */
const S = {
  webhookToken: 'SECRET-webhook-token-a1b2c3d4',
  apiToken: 'SECRET-api-token-e5f6a7b8c9',
  metricsToken: 'SECRET-metrics-token-d0e1f2',
  dashboardPassword: 'SECRET-dashboard-pw-3a4b5c',
  cwSecret: 'SECRET-chatwoot-signing-6d7e8f',
  cwLegacyToken: 'SECRET-chatwoot-legacy-9a0b1c',
  badChatwootToken: 'SECRET-bad-chatwoot-token-2d3e',
  badEvolutionKey: 'SECRET-bad-evolution-key-4f5a',
};
const INSTANCE = 'sec';
const NOW_S = () => String(Math.floor(Date.now() / 1000));
const sign = (body: string, ts = NOW_S(), secret = S.cwSecret) => ({ 'x-chatwoot-signature': `sha256=${createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex')}`, 'x-chatwoot-timestamp': ts });

let cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.reverse()) await fn().catch(() => {});
  cleanup = [];
});

function capture(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, stream };
}

async function start(env: Record<string, string>, level = 'silent', stream?: Writable): Promise<Evosync> {
  const app = await createEvosync(loadConfig({
    EVOSYNC_DATABASE_URL: tempSqliteUrl(), EVOSYNC_WEBHOOK_TOKEN: S.webhookToken, EVOSYNC_API_TOKEN: S.apiToken,
    EVOSYNC_DASHBOARD_USER: 'ops', EVOSYNC_DASHBOARD_PASSWORD: S.dashboardPassword,
    CHATWOOT_WEBHOOK_SECRET: S.cwSecret, EVOSYNC_CHATWOOT_WEBHOOK_TOKEN: S.cwLegacyToken,
    CHATWOOT_URL: 'http://127.0.0.1:9', CHATWOOT_API_TOKEN: 'unused-token', CHATWOOT_ACCOUNT_ID: '1', CHATWOOT_INBOX_ID: '7',
    EVOSYNC_RECONCILE_INTERVAL_MS: '0', EVOSYNC_ORDER_WINDOW_MS: '0', EVOSYNC_RETRY_BASE_MS: '50', EVOSYNC_LOG_LEVEL: level,
    ...env,
  }), { logger: createLogger(level, stream) });
  cleanup.push(() => app.stop());
  return app;
}

/** Every (method, path) Fastify knows, read from its route tree (one segment per line, indented by depth). */
function routesOf(tree: string): { method: string; path: string }[] {
  const stack: string[] = [];
  const out: { method: string; path: string }[] = [];
  for (const line of tree.split('\n')) {
    const at = line.indexOf('── ');
    if (at < 0) continue;
    const m = /^(.*?)(?: \(([A-Z, ]+)\))?$/.exec(line.slice(at + 3));
    const depth = Math.round(at / 4);
    stack.length = depth;
    stack[depth] = m?.[1] ?? '';
    for (const method of m?.[2]?.split(', ') ?? []) out.push({ method, path: stack.join('') });
  }
  return out;
}

const latestRefused = async (app: Evosync) => (await app.ledger.listRefused(1))[0] ?? null;

describe('nothing answers without credentials', () => {
  it('every registered route refuses an anonymous caller, except health, readiness, the login page and (without a token set) metrics', async () => {
    const app = await start({ EVOSYNC_METRICS_TOKEN: S.metricsToken });
    await app.server.ready();
    const routes = routesOf(app.server.printRoutes({ commonPrefix: false }));
    const OPEN = new Set(['GET /healthz', 'GET /readyz', 'GET /login', 'POST /login']);
    expect(routes.length).toBeGreaterThan(15);
    for (const { method, path } of routes) {
      if (method === 'HEAD' || OPEN.has(`${method} ${path}`)) continue;
      const url = path.replace(/:token/g, 'not-the-token').replace(/:[a-z_]+/gi, '1');
      const r = await app.server.inject({ method: method as 'GET', url, headers: { 'content-type': 'application/json' }, payload: method === 'GET' ? undefined : '{"event":"messages.upsert","instance":"sec","data":{}}' });
      // 303 → the dashboard's login page; everything else says 401 with a stable code.
      if (r.statusCode === 303) expect(r.headers.location, `${method} ${path}`).toBe('/login');
      else expect([r.statusCode, r.json<{ error: string }>().error], `${method} ${path}`).toEqual([401, expect.stringMatching(/TOKEN_INVALID|UNAUTHORIZED|SIGNATURE/)]);
    }
    expect((await app.server.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await app.server.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    // With the right credentials, the monitoring surfaces answer.
    expect((await app.server.inject({ method: 'GET', url: '/api/stats', headers: { authorization: `Bearer ${S.apiToken}` } })).statusCode).toBe(200);
    expect((await app.server.inject({ method: 'GET', url: '/api/stats', headers: { authorization: `Bearer ${S.webhookToken}` } })).statusCode).toBe(401);
    expect((await app.server.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${S.metricsToken}` } })).statusCode).toBe(200);
    expect((await app.server.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${S.apiToken}` } })).statusCode).toBe(401);
    // A repeated query parameter arrives as an array: refused like any wrong token, never a 500.
    const dup = await app.server.inject({ method: 'POST', url: `/webhooks/chatwoot?token=${S.cwLegacyToken}&token=x`, payload: '{}' });
    expect(dup.statusCode).toBe(401);
    // A stale signature (outside the window) is refused even when it is otherwise right.
    const body = '{"event":"conversation_created"}';
    expect((await app.server.inject({ method: 'POST', url: '/webhooks/chatwoot', headers: sign(body, String(Math.floor(Date.now() / 1000) - 301)), payload: body })).json()).toMatchObject({ error: 'CHATWOOT_SIGNATURE_EXPIRED' });
    expect((await app.server.inject({ method: 'POST', url: '/webhooks/chatwoot', headers: sign(body), payload: body })).statusCode).toBe(200);
  });

  it('without EVOSYNC_METRICS_TOKEN, /metrics is the one open data route (documented), and /api/stats stays closed', async () => {
    const app = await start({});
    expect((await app.server.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200);
    expect((await app.server.inject({ method: 'GET', url: '/api/stats' })).statusCode).toBe(401);
  });
});

describe('body size and depth limits', () => {
  it('413 with PAYLOAD_TOO_LARGE on every route; an authenticated ingest keeps the refusal, an anonymous one does not', async () => {
    const app = await start({ EVOSYNC_MAX_BODY_BYTES: '4096' });
    const big = JSON.stringify({ event: 'messages.upsert', instance: INSTANCE, data: { pad: 'x'.repeat(5000) } });
    const before = await latestRefused(app);
    const anon = await app.server.inject({ method: 'POST', url: '/webhooks/evolution', headers: { 'content-type': 'application/json' }, payload: big });
    expect([anon.statusCode, anon.json<{ error: string }>().error]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    expect(await latestRefused(app)).toEqual(before);

    const authed = await app.server.inject({ method: 'POST', url: '/webhooks/evolution/messages-upsert', headers: { 'content-type': 'application/json', authorization: `Bearer ${S.webhookToken}` }, payload: big });
    expect([authed.statusCode, authed.json<{ error: string }>().error]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    expect(await latestRefused(app)).toMatchObject({ source: 'webhook', code: 'PAYLOAD_TOO_LARGE', event: 'messages-upsert', reason: expect.stringMatching(/over the limit of 4096 bytes/), body: '' });

    const huge = JSON.stringify({ event: 'message_created', content: 'y'.repeat(1_100_000) });
    expect((await app.server.inject({ method: 'POST', url: '/webhooks/chatwoot', headers: sign(huge), payload: huge })).statusCode).toBe(413);
    expect((await latestRefused(app))?.source).toBe('webhook');
    expect((await app.server.inject({ method: 'POST', url: `/webhooks/chatwoot/t/${S.cwLegacyToken}`, payload: huge })).statusCode).toBe(413);
    expect(await latestRefused(app)).toMatchObject({ source: 'chatwoot', code: 'PAYLOAD_TOO_LARGE' });

    // The operator API and the dashboard's forms take a few KB, whatever EVOSYNC_MAX_BODY_BYTES says.
    const app2 = await start({ EVOSYNC_MAX_BODY_BYTES: String(8 * 1024 * 1024) });
    const form = `user=ops&password=${'p'.repeat(70_000)}`;
    expect((await app2.server.inject({ method: 'POST', url: '/login', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: form })).json()).toMatchObject({ error: 'PAYLOAD_TOO_LARGE' });
    const api = await app2.server.inject({ method: 'POST', url: '/api/reconcile', headers: { authorization: `Bearer ${S.apiToken}`, 'content-type': 'application/json' }, payload: JSON.stringify({ instance: 'x'.repeat(70_000) }) });
    expect(api.statusCode).toBe(413);
  });

  it('400 with PAYLOAD_TOO_DEEP for nesting past 64 levels, kept with the reason, on both webhooks', async () => {
    const app = await start({});
    const deep = `{"event":"messages.upsert","instance":"${INSTANCE}","data":${'['.repeat(100)}1${']'.repeat(100)}}`;
    const r = await app.server.inject({ method: 'POST', url: '/webhooks/evolution', headers: { 'x-evosync-token': S.webhookToken }, payload: deep });
    expect([r.statusCode, r.json<{ error: string }>().error]).toEqual([400, 'PAYLOAD_TOO_DEEP']);
    expect(await latestRefused(app)).toMatchObject({ source: 'webhook', code: 'PAYLOAD_TOO_DEEP', reason: 'body nests deeper than 64 levels', body: deep });
    const deepCw = `{"event":"message_created","x":${'{"a":'.repeat(80)}1${'}'.repeat(80)}}`;
    const c = await app.server.inject({ method: 'POST', url: '/webhooks/chatwoot', headers: sign(deepCw), payload: deepCw });
    expect([c.statusCode, c.json<{ error: string }>().error]).toEqual([400, 'PAYLOAD_TOO_DEEP']);
    expect(await latestRefused(app)).toMatchObject({ source: 'chatwoot', code: 'PAYLOAD_TOO_DEEP' });
    // 64 levels is still read (and here refused only for its shape).
    const ok = `{"event":"messages.upsert","instance":"${INSTANCE}","data":${'['.repeat(63)}1${']'.repeat(63)}}`;
    expect((await app.server.inject({ method: 'POST', url: '/webhooks/evolution', headers: { 'x-evosync-token': S.webhookToken }, payload: ok })).json()).toMatchObject({ error: 'PAYLOAD_INVALID' });
  });
});

describe('mutated real payloads through the webhook routes into the SQLite ledger', () => {
  it('Evolution: every answer is 200 or a 4xx with a stable code, never a 5xx; every 4xx is a refused row with that code and a reason', async () => {
    const app = await start({});
    const envelopes = realEvolutionEnvelopes();
    let refusals = 0;
    await fc.assert(fc.asyncProperty(mutatedBody(envelopes), async (body) => {
      const before = await latestRefused(app);
      const r = await app.server.inject({ method: 'POST', url: '/webhooks/evolution', headers: { authorization: `Bearer ${S.webhookToken}`, 'content-type': 'application/json' }, payload: body });
      expect([200, 400]).toContain(r.statusCode);
      if (r.statusCode === 400) {
        refusals += 1;
        const row = await latestRefused(app);
        expect(row?.id).not.toBe(before?.id);
        expect(row).toMatchObject({ source: 'webhook', code: r.json<{ error: string }>().error });
        expect(row?.reason.length).toBeGreaterThan(0);
        // Kept as received (credentials blanked, cut past 256 KB).
        if (body.length < 200_000) expect(row?.body).toBe(redactSecrets(body));
      }
    }), { numRuns: 120 });
    expect(refusals).toBeGreaterThan(10);
  }, 60_000);

  it('Chatwoot: signed mutated webhooks are answered 2xx or 400, and the ones evosync cannot read are kept with the reason', async () => {
    const app = await start({});
    await fc.assert(fc.asyncProperty(mutatedBody(realChatwootWebhooks()), async (body) => {
      const before = await latestRefused(app);
      const r = await app.server.inject({ method: 'POST', url: '/webhooks/chatwoot', headers: { ...sign(body), 'content-type': 'application/json' }, payload: body });
      expect([200, 400]).toContain(r.statusCode);
      const answer = r.json<{ refused?: boolean; error?: string; reason?: string }>();
      if (answer.refused || r.statusCode === 400) {
        const row = await latestRefused(app);
        expect(row?.id).not.toBe(before?.id);
        expect(row?.source).toBe('chatwoot');
        expect(row?.reason.length).toBeGreaterThan(0);
      }
    }), { numRuns: 80 });
  }, 60_000);
});

describe('secrets never leave evosync', () => {
  it('in no log line, metric, error reply or refused body, through bad tokens, Chatwoot 401, Evolution 401, malformed bodies and config errors', async () => {
    const { lines, stream } = capture();
    const cw = await createChatwootSim({ seed: 41 });
    cleanup.push(() => cw.close());
    const evo = await createEvolutionSim({ seed: 41, instances: [INSTANCE] });
    cleanup.push(() => evo.close());
    const secrets: Record<string, string> = { ...S };
    const replies: string[] = [];
    const app = await start({
      CHATWOOT_URL: cw.url, CHATWOOT_API_TOKEN: S.badChatwootToken, CHATWOOT_ACCOUNT_ID: String(cw.accountId), CHATWOOT_INBOX_ID: String(cw.inboxId),
      EVOLUTION_URL: evo.url, EVOLUTION_API_KEY: S.badEvolutionKey, EVOSYNC_INSTANCES: INSTANCE, EVOSYNC_METRICS_TOKEN: S.metricsToken,
    }, 'trace', stream);
    const send = async (o: { method: 'GET' | 'POST'; url: string; headers?: Record<string, string>; payload?: string }) => {
      const r = await app.server.inject(o);
      replies.push(`${r.statusCode} ${JSON.stringify(r.headers)} ${r.body}`);
      return r;
    };
    const upsert = (id: string, apikey: string) => JSON.stringify({ event: 'messages.upsert', instance: INSTANCE, apikey, data: { key: { remoteJid: '5511944440001@s.whatsapp.net', fromMe: false, id }, pushName: 'Ana', message: { conversation: `hi ${id}` }, messageTimestamp: Math.floor(Date.now() / 1000) } });

    // Wrong credentials, each secret presented where another belongs.
    await send({ method: 'POST', url: `/webhooks/evolution/t/${S.apiToken}`, payload: upsert('A1', S.webhookToken) });
    await send({ method: 'POST', url: `/webhooks/evolution?token=${S.metricsToken}`, payload: upsert('A2', S.webhookToken) });
    await send({ method: 'POST', url: '/webhooks/chatwoot', headers: sign('{}', NOW_S(), S.dashboardPassword), payload: '{}' });
    await send({ method: 'POST', url: `/webhooks/chatwoot?token=${S.cwSecret}`, payload: '{}' });
    await send({ method: 'GET', url: '/api/stats', headers: { authorization: `Bearer ${S.cwLegacyToken}` } });
    await send({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${S.apiToken}` } });
    await send({ method: 'POST', url: '/login', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `user=ops&password=${S.webhookToken}` });
    // Malformed bodies carrying credentials: stored and logged without them.
    await send({ method: 'POST', url: '/webhooks/evolution', headers: { authorization: `Bearer ${S.webhookToken}` }, payload: `{"event":"messages.upsert","apikey":"${S.badEvolutionKey}", tru}` });
    await send({ method: 'POST', url: '/webhooks/evolution', headers: { authorization: `Bearer ${S.webhookToken}` }, payload: `{"event":"messages.upsert","instance":"${INSTANCE}","apikey":"${S.badEvolutionKey}","data":{"key":{}}}` });
    await send({ method: 'POST', url: `/webhooks/chatwoot?token=${S.cwLegacyToken}`, payload: `{"event":"message_created","token":"${S.cwSecret}", x}` });

    // Chatwoot refuses evosync's token: delivery pauses, and says so in the log.
    expect((await send({ method: 'POST', url: '/webhooks/evolution', headers: { authorization: `Bearer ${S.webhookToken}` }, payload: upsert('A3', S.badEvolutionKey) })).statusCode).toBe(200);
    await until('Chatwoot 401 logged', () => lines.some((l) => l.includes('"delivery paused"') && l.includes('401')));

    // Evolution refuses evosync's key on an agent reply.
    const api = new ChatwootApi({ url: cw.url, apiToken: cw.token, accountId: cw.accountId, inboxId: cw.inboxId }, 5000);
    cleanup.push(() => api.close());
    secrets['chatwootToken'] = cw.token;
    secrets['evolutionKey'] = evo.apiKey;
    const { conversationId } = await conversationFor(api, '5511944440002');
    const address = await app.listen();
    cw.setInboxWebhook(`${address}/webhooks/chatwoot`, S.cwSecret);
    await cw.agentReply(conversationId, 'a reply that cannot be sent');
    await until('Evolution 401 logged', () => lines.some((l) => l.includes('"sending paused"') && l.includes('401')), 20_000).catch((e: unknown) => {
      console.log(lines.filter((l) => /401|paus|UNAUTH|send/i.test(l)).slice(-20).join('\n'));
      throw e;
    });

    const metrics = await send({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${S.metricsToken}` } });
    expect(metrics.statusCode).toBe(200);
    const stats = await send({ method: 'GET', url: '/api/stats', headers: { authorization: `Bearer ${S.apiToken}` } });
    expect(stats.statusCode).toBe(200);
    const refused = await app.ledger.listRefused(100);
    expect(refused.length).toBeGreaterThanOrEqual(3);

    let configError = '';
    try {
      loadConfig({ EVOSYNC_WEBHOOK_TOKEN: 'short', EVOSYNC_API_TOKEN: S.apiToken, CHATWOOT_API_TOKEN: S.badChatwootToken, EVOSYNC_DASHBOARD_PASSWORD: S.dashboardPassword, CHATWOOT_URL: `notaurl-${S.cwSecret}`, EVOSYNC_REDIS_URL: `http://${S.cwLegacyToken}`, EVOSYNC_METRICS_TOKEN: S.metricsToken.slice(0, 10) });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      configError = (error as Error).message;
    }
    expect(configError).toMatch(/EVOSYNC_WEBHOOK_TOKEN/);

    await app.stop();
    const texts: [string, string][] = [
      ...lines.map((l): [string, string] => ['log', l]),
      ['metrics', metrics.body],
      ...replies.map((r): [string, string] => ['reply', r]),
      ...refused.map((r): [string, string] => ['refused', JSON.stringify(r)]),
      ['config error', configError],
    ];
    // The error paths really ran, so the absence below means something.
    for (const msg of ['input refused and kept', 'dashboard login failed', 'delivery paused', 'sending paused']) expect(lines.some((l) => l.includes(`"msg":"${msg}"`)), msg).toBe(true);
    for (const [where, text] of texts) {
      for (const [name, secret] of Object.entries(secrets)) expect(text.includes(secret), `${name} leaked in ${where}: ${text.slice(0, 500)}`).toBe(false);
      expect(text.includes(S.metricsToken.slice(0, 10)) && where !== 'log', `metrics token prefix in ${where}`).toBe(false);
    }
  }, 60_000);
});

describe('agent-reply files come only from allowed hosts', () => {
  it("ActiveStorage's redirect to a storage host is followed only when that host is listed; the size cap holds", async () => {
    // The sim serves on 127.0.0.1 and redirects downloads to "localhost", as Chatwoot redirects to S3.
    const cw: ChatwootSim = await createChatwootSim({ seed: 43, storageHost: 'localhost' });
    cleanup.push(() => cw.close());
    const api = new ChatwootApi({ url: cw.url, apiToken: cw.token, accountId: cw.accountId, inboxId: cw.inboxId }, 5000);
    cleanup.push(() => api.close());
    const { conversationId } = await conversationFor(api, '5511944440003');
    const data = Buffer.from('%PDF-1.4 evosync test file');
    const msg = await cw.agentReply(conversationId, 'the file', { attachments: [{ fileName: 'a.pdf', contentType: 'application/pdf', data }] });
    const url = (msg['attachments'] as { data_url: string }[])[0]!.data_url;
    const policy = { chatwootUrl: cw.url, allowedHosts: [] as string[], maxBytes: 1024 * 1024, timeoutMs: 5000 };

    const refused = await fetchAttachment(url, policy);
    expect(refused).toMatchObject({ ok: false, failure: { kind: 'rejected', message: expect.stringMatching(/^redirected to localhost, which is neither CHATWOOT_URL's host nor in EVOSYNC_MEDIA_ALLOWED_HOSTS/) } });
    const fetched = await fetchAttachment(url, { ...policy, allowedHosts: ['localhost'] });
    expect(fetched.ok && fetched.bytes.equals(data)).toBe(true);
    const capped = await fetchAttachment(url, { ...policy, allowedHosts: ['localhost'], maxBytes: 10 });
    expect(capped).toMatchObject({ ok: false, failure: { kind: 'rejected', message: expect.stringMatching(/over the limit of 10 bytes/) } });
    // A data_url that is not on an allowed host is never requested at all.
    const before = cw.stats().requests;
    expect(await fetchAttachment(url.replace('127.0.0.1', 'localhost'), policy)).toMatchObject({ ok: false, failure: { kind: 'rejected' } });
    expect(cw.stats().requests).toBe(before);
  });

  it('end to end: without the storage host listed the reply is shown failed and nothing is sent; with it, the file reaches WhatsApp', async () => {
    for (const listed of [false, true]) {
      const cw = await createChatwootSim({ seed: 44, storageHost: 'localhost' });
      cleanup.push(() => cw.close());
      const evo = await createEvolutionSim({ seed: 44, instances: [INSTANCE] });
      cleanup.push(() => evo.close());
      const app = await start({
        CHATWOOT_URL: cw.url, CHATWOOT_API_TOKEN: cw.token, CHATWOOT_ACCOUNT_ID: String(cw.accountId), CHATWOOT_INBOX_ID: String(cw.inboxId),
        EVOLUTION_URL: evo.url, EVOLUTION_API_KEY: evo.apiKey, EVOSYNC_INSTANCES: INSTANCE, EVOSYNC_HOST: '127.0.0.1', EVOSYNC_PORT: '0',
        ...(listed ? { EVOSYNC_MEDIA_ALLOWED_HOSTS: 'localhost' } : {}),
      });
      const address = await app.listen();
      cw.setInboxWebhook(`${address}/webhooks/chatwoot`, S.cwSecret);
      const api = new ChatwootApi({ url: cw.url, apiToken: cw.token, accountId: cw.accountId, inboxId: cw.inboxId }, 5000);
      cleanup.push(() => api.close());
      const { conversationId } = await conversationFor(api, '5511944440004');
      const msg = await cw.agentReply(conversationId, 'photo', { attachments: [{ fileName: 'p.png', contentType: 'image/png', data: Buffer.from('\x89PNG fake image bytes') }] });
      const row = await until('reply settled', async () => {
        const m = await app.ledger.getMessage(INSTANCE, replyKey(Number(msg['id'])));
        return m && (m.state === 'delivered' || m.state === 'dead') ? m : null;
      });
      if (listed) {
        expect(row.state).toBe('delivered');
        expect(evo.sent(INSTANCE)).toHaveLength(1);
      } else {
        expect(row.state).toBe('dead');
        expect(row.lastError).toMatch(/^ATTACHMENT_UNAVAILABLE: redirected to localhost/);
        expect(evo.sent(INSTANCE)).toHaveLength(0);
      }
    }
  }, 30_000);
});
