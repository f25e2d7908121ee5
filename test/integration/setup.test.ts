import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createChatwootSim, type ChatwootSim } from '../../sim/chatwoot/index.js';
import { createEvolutionSim, type EvolutionSim } from '../../sim/evolution/index.js';
import { createEvosync } from '../../src/app.js';
import { runCli } from '../../src/cli/main.js';
import { loadConfig } from '../../src/config/load.js';
import type { CheckResult } from '../../src/doctor/index.js';
import { createLogger } from '../../src/lib/logger.js';
import { DEFAULT_INBOX_NAME, type SetupReport } from '../../src/setup/index.js';
import { AMQP_URL, amqpAvailable, tempSqliteUrl } from '../helpers/services.js';
import { cleanups, until } from '../helpers/lifecycle.js';

/**
 * `evosync setup` against the Evolution and Chatwoot simulators: from nothing to a working sync in
 * both directions, a second run that sends no write at all, a dry run that changes nothing, and
 * each thing setup must refuse or leave to the operator.
 */
const WEBHOOK_TOKEN = 'setup-webhook-token-0123456789ab';
const SEEDED_SECRET = 'seeded-inbox-secret-of-the-sim-0001';
const INSTANCE = 'setupinst';

const cleanup = cleanups();

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

interface Rig {
  evo: EvolutionSim;
  cw: ChatwootSim;
  env: Record<string, string>;
  port: number;
}

/**
 * "Nothing": Chatwoot 4.13 (signing) with only its seeded inboxes, an Evolution instance whose
 * webhook feeds another system and whose built-in Chatwoot integration is on.
 */
async function rig(opts: { signed?: boolean; instance?: string } = {}): Promise<Rig> {
  const cw = await createChatwootSim({ seed: 9, ...(opts.signed === false ? {} : { secret: SEEDED_SECRET }) });
  cleanup.push(() => cw.close());
  const instance = opts.instance ?? INSTANCE;
  const evo = await createEvolutionSim({ seed: 9, instances: [instance, 'other'] });
  cleanup.push(() => evo.close());
  evo.setWebhook(instance, { url: 'https://n8n.example.test/webhook/abc', events: ['MESSAGES_UPSERT'] });
  const res = await evoCall(evo, 'POST', `/chatwoot/set/${instance}`, {
    enabled: true, accountId: String(cw.accountId), token: cw.token, url: cw.url, signMsg: false, reopenConversation: true, conversationPending: false, nameInbox: 'Evolution inbox',
  });
  expect(res.status).toBe(201);
  const port = await freePort();
  const env: Record<string, string> = {
    EVOSYNC_DATABASE_URL: tempSqliteUrl(),
    EVOSYNC_PUBLIC_URL: `http://127.0.0.1:${port}`,
    EVOSYNC_WEBHOOK_TOKEN: WEBHOOK_TOKEN,
    EVOSYNC_INSTANCES: instance,
    EVOLUTION_URL: evo.url,
    EVOLUTION_API_KEY: evo.apiKey,
    CHATWOOT_URL: cw.url,
    CHATWOOT_API_TOKEN: cw.token,
    CHATWOOT_ACCOUNT_ID: String(cw.accountId),
  };
  return { evo, cw, env, port };
}

async function evoCall(evo: EvolutionSim, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> | null }> {
  const res = await fetch(`${evo.url}${path}`, {
    method,
    headers: { apikey: evo.apiKey, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : null };
}

async function cwInbox(cw: ChatwootSim, id: number): Promise<Record<string, unknown>> {
  const res = await fetch(`${cw.url}/api/v1/accounts/${cw.accountId}/inboxes/${id}`, { headers: { api_access_token: cw.token } });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

async function cwInboxes(cw: ChatwootSim): Promise<Record<string, unknown>[]> {
  const res = await fetch(`${cw.url}/api/v1/accounts/${cw.accountId}/inboxes`, { headers: { api_access_token: cw.token } });
  return ((await res.json()) as { payload: Record<string, unknown>[] }).payload;
}

async function cli(args: string[], env: Record<string, string>): Promise<{ exitCode: number; lines: string[] }> {
  const lines: string[] = [];
  const r = await runCli(args, env, (l) => lines.push(l));
  if (r.kind !== 'done') throw new Error('unexpected running result');
  return { exitCode: r.exitCode, lines };
}

async function setup(env: Record<string, string>, flags: string[] = []): Promise<{ exitCode: number; report: SetupReport; raw: string }> {
  const { exitCode, lines } = await cli(['setup', '--json', ...flags], env);
  expect(lines).toHaveLength(1);
  const report = JSON.parse(lines[0] ?? '') as SetupReport;
  expect(report.ok).toBe(exitCode === 0);
  return { exitCode, report, raw: lines[0] ?? '' };
}

const statuses = (r: SetupReport) => r.steps.map((s) => `${s.id}:${s.status}`);


describe('evosync setup', () => {
  it('--dry-run prints the plan and changes nothing', async () => {
    const { evo, cw, env } = await rig();
    const webhookBefore = (await evoCall(evo, 'GET', `/webhook/find/${INSTANCE}`)).json;
    const inboxesBefore = await cwInboxes(cw);
    cw.resetStats();

    const { exitCode, report } = await setup(env, ['--dry-run', '--disable-builtin-chatwoot']);
    expect(report.dryRun).toBe(true);
    expect(statuses(report)).toEqual([
      'chatwoot.inbox:planned',
      'chatwoot.webhook:planned',
      'chatwoot.secret:planned',
      'evolution.events:planned',
      'evolution.chatwoot-integration:planned',
    ]);
    expect(exitCode).toBe(0);
    expect(report.steps[0]?.message).toContain(`would create the API inbox "${DEFAULT_INBOX_NAME}"`);
    expect(report.steps[3]?.message).toMatch(/replaces the webhook to https:\/\/n8n\.example\.test/);

    // Nothing written on either side.
    expect(Object.keys(cw.stats().byRoute).filter((r) => !r.startsWith('GET'))).toEqual([]);
    expect(await cwInboxes(cw)).toEqual(inboxesBefore);
    expect((await evoCall(evo, 'GET', `/webhook/find/${INSTANCE}`)).json).toEqual(webhookBefore);
    expect((await evoCall(evo, 'GET', `/chatwoot/find/${INSTANCE}`)).json?.['enabled']).toBe(true);

    const text = await cli(['setup', '--dry-run'], env);
    expect(text.lines.at(-1)).toMatch(/^dry run, nothing changed: 4 planned, 1 to do \(exit 1\)$/);
  });

  it('goes from nothing to a working sync in both directions; the second run reports every step unchanged', { timeout: 60_000 }, async () => {
    const { evo, cw, env, port } = await rig();

    // First run: creates the inbox and its webhook, points the instance at evosync, turns the
    // built-in integration off, and leaves the new inbox's secret to the operator.
    const first = await setup(env, ['--disable-builtin-chatwoot']);
    expect(statuses(first.report)).toEqual([
      'chatwoot.inbox:changed',
      'chatwoot.webhook:changed',
      'chatwoot.secret:todo',
      'evolution.events:changed',
      'evolution.chatwoot-integration:changed',
    ]);
    expect(first.exitCode).toBe(1);
    const created = (await cwInboxes(cw)).find((i) => i['name'] === DEFAULT_INBOX_NAME);
    expect(created).toMatchObject({ channel_type: 'Channel::Api', webhook_url: `${env['EVOSYNC_PUBLIC_URL']}/webhooks/chatwoot` });
    const inboxId = created?.['id'] as number;
    expect(first.report.settings).toEqual([`CHATWOOT_INBOX_ID=${inboxId}`]);
    const secret = (await cwInbox(cw, inboxId))['secret'] as string;
    expect(secret).toMatch(/.{16,}/);
    expect(first.report.steps[2]?.next).toContain(`/inboxes/${inboxId} | jq -r .secret`);
    // No secret or token is ever printed in full.
    for (const s of [secret, WEBHOOK_TOKEN, cw.token, evo.apiKey]) expect(first.raw).not.toContain(s);

    const webhook = (await evoCall(evo, 'GET', `/webhook/find/${INSTANCE}`)).json;
    expect(webhook).toMatchObject({
      enabled: true,
      url: `${env['EVOSYNC_PUBLIC_URL']}/webhooks/evolution`,
      headers: { authorization: `Bearer ${WEBHOOK_TOKEN}` },
      webhookByEvents: false,
      webhookBase64: true,
    });
    expect(webhook?.['events']).toEqual(['MESSAGES_UPSERT', 'SEND_MESSAGE', 'MESSAGES_UPDATE', 'MESSAGES_DELETE', 'MESSAGES_EDITED', 'SEND_MESSAGE_UPDATE', 'CONNECTION_UPDATE']);
    const builtIn = (await evoCall(evo, 'GET', `/chatwoot/find/${INSTANCE}`)).json;
    // Off, with the operator's other settings kept.
    expect(builtIn).toMatchObject({ enabled: false, nameInbox: 'Evolution inbox', reopenConversation: true });
    // The instance setup was not asked about is untouched.
    expect((await evoCall(evo, 'GET', '/webhook/find/other')).json).toBeNull();

    // The operator puts what setup said into the environment; the second run writes nothing.
    const configured = { ...env, CHATWOOT_INBOX_ID: String(inboxId), CHATWOOT_WEBHOOK_SECRET: secret };
    cw.resetStats();
    const second = await setup(configured);
    expect(statuses(second.report)).toEqual([
      'chatwoot.inbox:unchanged',
      'chatwoot.webhook:unchanged',
      'chatwoot.secret:unchanged',
      'evolution.events:unchanged',
      'evolution.chatwoot-integration:unchanged',
    ]);
    expect(second.exitCode).toBe(0);
    expect(second.report.settings).toEqual([]);
    expect(Object.keys(cw.stats().byRoute).filter((r) => !r.startsWith('GET'))).toEqual([]);
    expect((await evoCall(evo, 'GET', `/webhook/find/${INSTANCE}`)).json?.['updatedAt']).toBe(webhook?.['updatedAt']);
    const text = await cli(['setup'], configured);
    expect(text.exitCode).toBe(0);
    expect(text.lines.slice(0, 5).every((l) => l.startsWith('unchanged'))).toBe(true);
    expect(text.lines[5]).toBe('5 unchanged');

    // Start evosync where setup said it would be, and sync both ways.
    const app = await createEvosync(
      loadConfig({ ...configured, EVOSYNC_HOST: '127.0.0.1', EVOSYNC_PORT: String(port), EVOSYNC_ORDER_WINDOW_MS: '0', EVOSYNC_RECONCILE_INTERVAL_MS: '0', EVOSYNC_LOG_LEVEL: 'silent' }),
      { logger: createLogger('silent') },
    );
    cleanup.push(() => app.stop());
    await app.listen();
    await evo.run({ instance: INSTANCE, chats: 1, messages: 3, kinds: { text: 1 }, fromMeRate: 0, groupRate: 0, lidRate: 0 });
    const incoming = await until('WhatsApp messages in the new inbox', () => {
      const m = cw.snapshot().messages.filter((x) => x.inbox_id === inboxId && x.message_type === 'incoming');
      return m.length === 3 ? m : null;
    });
    const conversationId = incoming[0]?.conversation_id as number;
    await cw.agentReply(conversationId, 'Olá, **posso ajudar**?');
    const sent = await until('the agent reply on WhatsApp', () => {
      const s = evo.sent(INSTANCE);
      return s.length === 1 ? s : null;
    });
    expect(JSON.stringify(sent[0]?.message)).toContain('Olá, *posso ajudar*?');

    // And doctor agrees: nothing fails.
    const doctor = await cli(['doctor', '--json'], configured);
    const checks = (JSON.parse(doctor.lines[0] ?? '') as { checks: CheckResult[] }).checks;
    expect(checks.filter((c) => c.status === 'fail')).toEqual([]);
    expect(doctor.exitCode).toBe(0);
  });

  it('leaves the built-in integration to the operator without --disable-builtin-chatwoot, and prints the request without its token', async () => {
    const { evo, cw, env } = await rig();
    const { exitCode, lines } = await cli(['setup'], env);
    expect(exitCode).toBe(1);
    const line = lines.find((l) => l.includes('evolution.chatwoot-integration')) ?? '';
    expect(line).toMatch(/^TODO/);
    expect(line).toContain(`/chatwoot/set/${INSTANCE}`);
    expect(line).toContain('"enabled":false');
    expect(line).toContain('--disable-builtin-chatwoot');
    expect(lines.join('\n')).not.toContain(cw.token);
    expect((await evoCall(evo, 'GET', `/chatwoot/find/${INSTANCE}`)).json?.['enabled']).toBe(true);
    expect(lines).toContain("Add to evosync's environment:");
  });

  it('on Chatwoot before 4.13 puts the legacy token in the webhook URL, and asks for it when it is missing', async () => {
    const { cw, env } = await rig({ signed: false });
    const legacy = 'legacy-chatwoot-token-0123456789';
    const withToken = await setup({ ...env, EVOSYNC_CHATWOOT_WEBHOOK_TOKEN: legacy }, ['--disable-builtin-chatwoot']);
    expect(statuses(withToken.report).slice(0, 3)).toEqual(['chatwoot.inbox:changed', 'chatwoot.webhook:changed', 'chatwoot.secret:unchanged']);
    expect(withToken.raw).not.toContain(legacy);
    const inboxId = Number(/CHATWOOT_INBOX_ID=(\d+)/.exec(withToken.report.settings.join(' '))?.[1]);
    const inbox = await cwInbox(cw, inboxId);
    expect(inbox['webhook_url']).toBe(`${env['EVOSYNC_PUBLIC_URL']}/webhooks/chatwoot?token=${legacy}`);
    expect(inbox).not.toHaveProperty('secret');
    expect(withToken.exitCode).toBe(0);

    const without = await setup(env);
    // The inbox is found by name, not created twice; without the token the URL loses it.
    expect(statuses(without.report).slice(0, 3)).toEqual(['chatwoot.inbox:unchanged', 'chatwoot.webhook:changed', 'chatwoot.secret:todo']);
    expect(without.report.steps[2]?.message).toMatch(/signs nothing.*EVOSYNC_CHATWOOT_WEBHOOK_TOKEN is not set/);
    expect((await cwInboxes(cw)).filter((i) => i['name'] === DEFAULT_INBOX_NAME)).toHaveLength(1);
  });

  it('verifies a configured inbox: fails for a website inbox or one that does not exist, passes the API inbox', async () => {
    const { cw, env } = await rig();
    const web = await setup({ ...env, CHATWOOT_INBOX_ID: '2' });
    expect(web.report.steps[0]).toMatchObject({ id: 'chatwoot.inbox', status: 'failed', message: expect.stringMatching(/Channel::WebWidget inbox, not an API channel/) });
    expect(web.report.steps.some((s) => s.id === 'chatwoot.webhook')).toBe(false);
    expect(web.exitCode).toBe(1);
    const missing = await setup({ ...env, CHATWOOT_INBOX_ID: '99' });
    expect(missing.report.steps[0]).toMatchObject({ status: 'failed', message: expect.stringMatching(/does not exist/) });

    const seeded = await setup({ ...env, CHATWOOT_INBOX_ID: String(cw.inboxId), CHATWOOT_WEBHOOK_SECRET: SEEDED_SECRET }, ['--disable-builtin-chatwoot']);
    expect(statuses(seeded.report).slice(0, 3)).toEqual(['chatwoot.inbox:unchanged', 'chatwoot.webhook:changed', 'chatwoot.secret:unchanged']);
    const wrong = await setup({ ...env, CHATWOOT_INBOX_ID: String(cw.inboxId), CHATWOOT_WEBHOOK_SECRET: 'not-the-inbox-secret-at-all' });
    expect(wrong.report.steps[2]).toMatchObject({ status: 'todo', message: expect.stringMatching(/holds another secret/) });
    // A non-administrator cannot change the inbox.
    const agent = await setup({ ...env, CHATWOOT_INBOX_ID: String(cw.inboxId), CHATWOOT_API_TOKEN: cw.agentToken });
    expect(agent.report.steps[1]).toMatchObject({ id: 'chatwoot.webhook', status: 'failed', next: expect.stringMatching(/administrator/) });
  });

  it('names the instances it needs, and fails for one Evolution does not have', async () => {
    const { env } = await rig();
    const { EVOSYNC_INSTANCES: _none, ...noInstances } = env;
    const unnamed = await setup(noInstances);
    expect(unnamed.report.steps.at(-1)).toMatchObject({ id: 'evolution.instance', status: 'todo', message: expect.stringMatching(new RegExp(`Evolution has: ${INSTANCE}, other`)) });
    const ghost = await setup(env, ['--instance', 'ghost']);
    expect(ghost.report.steps.at(-1)).toMatchObject({ id: 'evolution.instance', status: 'failed', subject: 'ghost' });
    // Without EVOSYNC_PUBLIC_URL setup cannot know where to point anything.
    const { EVOSYNC_PUBLIC_URL: _url, ...noUrl } = env;
    await expect(cli(['setup'], noUrl)).rejects.toThrow(/EVOSYNC_PUBLIC_URL: required by setup/);
  });

  it('with EVOSYNC_AMQP_URL turns on the instance RabbitMQ events instead, and fails when RabbitMQ is off in Evolution', async () => {
    const instance = `setupamqp${process.pid}`;
    const { evo, env } = await rig({ instance });
    const amqpEnv = { ...env, EVOSYNC_AMQP_URL: AMQP_URL };
    // Evolution with RABBITMQ_ENABLED off: /rabbitmq/set answers 201 and stores nothing.
    const off = await setup(amqpEnv, ['--disable-builtin-chatwoot']);
    expect(off.report.steps.find((s) => s.id === 'evolution.events')).toMatchObject({ status: 'failed', message: expect.stringMatching(/RabbitMQ is off/) });
    // The webhook is left alone when RabbitMQ is the ingest.
    expect((await evoCall(evo, 'GET', `/webhook/find/${instance}`)).json?.['url']).toBe('https://n8n.example.test/webhook/abc');

    if (!(await amqpAvailable())) return;
    await evo.setRabbitmq({ uri: AMQP_URL, mode: 'instance' });
    cleanup.push(() => evo.setRabbitmq(null));
    expect((await evoCall(evo, 'POST', `/rabbitmq/set/${instance}`, { rabbitmq: { enabled: false } })).status).toBe(201);
    const on = await setup(amqpEnv);
    expect(on.report.steps.find((s) => s.id === 'evolution.events')?.status).toBe('changed');
    const row = (await evoCall(evo, 'GET', `/rabbitmq/find/${instance}`)).json;
    expect(row?.['enabled']).toBe(true);
    expect(row?.['events']).toEqual(expect.arrayContaining(['MESSAGES_UPSERT', 'SEND_MESSAGE', 'CONNECTION_UPDATE', 'CONTACTS_UPSERT']));
    const again = await setup(amqpEnv);
    expect(again.report.steps.find((s) => s.id === 'evolution.events')?.status).toBe('unchanged');
  });
});
