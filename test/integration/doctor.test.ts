import { migrationProvider } from '../../src/ledger/migrations.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { createChatwootSim, type ChatwootSim } from '../../sim/chatwoot/index.js';
import { createEvolutionSim, type EvolutionSim } from '../../sim/evolution/index.js';
import { createEvosync } from '../../src/app.js';
import { runCli } from '../../src/cli/main.js';
import { loadConfig } from '../../src/config/load.js';
import { type CheckResult, runDoctor } from '../../src/doctor/index.js';
import { connect } from '../../src/ledger/connect.js';
import { createLogger } from '../../src/lib/logger.js';
import { tempSqliteUrl } from '../helpers/services.js';
import { cleanups } from '../helpers/lifecycle.js';

/**
 * `evosync doctor` against the Evolution and Chatwoot simulators and a real SQLite ledger: a
 * correct setup passes, and each mistake a newcomer makes shows up as its own check.
 */
const WEBHOOK_TOKEN = 'doctor-webhook-token-0123456789';
const INSTANCE = 'inst';
const PUBLIC_URL = 'https://evosync.example.test';
const EVOSYNC_WEBHOOK_URL = `${PUBLIC_URL}/webhooks/evolution`;
const CW_SECRET = 'doctor-inbox-secret-0123456789ab';

let ledgerUrl = '';
beforeAll(async () => {
  ledgerUrl = tempSqliteUrl();
  const migrated = await cli(['migrate'], { EVOSYNC_DATABASE_URL: ledgerUrl });
  expect(migrated.exitCode).toBe(0);
});

const cleanup = cleanups();

interface Rig {
  evo: EvolutionSim;
  cw: ChatwootSim;
  env: Record<string, string>;
}

/**
 * A correct setup: evosync's webhook with its token, built-in integration off, admin token, API
 * inbox whose callback (Chatwoot 4.13, signed) points at evosync with the secret evosync has.
 */
async function rig(opts: { saveNewMessages?: boolean } = {}): Promise<Rig> {
  const cw = await createChatwootSim({ seed: 5, secret: CW_SECRET });
  cleanup.push(() => cw.close());
  cw.setInboxWebhook(`${PUBLIC_URL}/webhooks/chatwoot`);
  const evo = await createEvolutionSim({ seed: 5, instances: [INSTANCE], ...(opts.saveNewMessages === false ? { saveNewMessages: false } : {}) });
  cleanup.push(() => evo.close());
  goodWebhook(evo);
  const env: Record<string, string> = {
    EVOSYNC_DATABASE_URL: ledgerUrl,
    EVOSYNC_WEBHOOK_TOKEN: WEBHOOK_TOKEN,
    EVOSYNC_PUBLIC_URL: PUBLIC_URL,
    CHATWOOT_WEBHOOK_SECRET: CW_SECRET,
    EVOLUTION_URL: evo.url,
    EVOLUTION_API_KEY: evo.apiKey,
    CHATWOOT_URL: cw.url,
    CHATWOOT_API_TOKEN: cw.token,
    CHATWOOT_ACCOUNT_ID: String(cw.accountId),
    CHATWOOT_INBOX_ID: String(cw.inboxId),
  };
  return { evo, cw, env };
}

function goodWebhook(evo: EvolutionSim): void {
  evo.setWebhook(INSTANCE, { url: EVOSYNC_WEBHOOK_URL, headers: { authorization: `Bearer ${WEBHOOK_TOKEN}` }, events: ['MESSAGES_UPSERT', 'SEND_MESSAGE', 'CONNECTION_UPDATE'] });
}

async function cli(args: string[], env: Record<string, string>): Promise<{ exitCode: number; lines: string[] }> {
  const lines: string[] = [];
  const r = await runCli(args, env, (l) => lines.push(l));
  if (r.kind !== 'done') throw new Error('unexpected running result');
  return { exitCode: r.exitCode, lines };
}

async function doctor(env: Record<string, string>, extra: string[] = []): Promise<{ exitCode: number; checks: CheckResult[] }> {
  const { exitCode, lines } = await cli(['doctor', '--json', ...extra], env);
  expect(lines).toHaveLength(1);
  const report = JSON.parse(lines[0] ?? '') as { ok: boolean; checks: CheckResult[] };
  expect(report.ok).toBe(exitCode === 0);
  return { exitCode, checks: report.checks };
}

const failing = (checks: CheckResult[]) => checks.filter((c) => c.status === 'fail').map((c) => c.id);
const byId = (checks: CheckResult[], id: string) => {
  const found = checks.filter((c) => c.id === id);
  expect(found, `check ${id}`).toHaveLength(1);
  return found[0] as CheckResult;
};

describe('evosync doctor', () => {
  it('passes a correct setup: every check ok, only the message-store reminder warns, exit 0', async () => {
    const { env } = await rig();
    const { exitCode, checks } = await doctor(env);
    expect(checks.map((c) => `${c.id}:${c.status}`)).toEqual([
      'config:ok',
      'ledger:ok',
      'evolution.api:ok',
      'evolution.instance:ok',
      'evolution.chatwoot-integration:ok',
      'evolution.events:ok',
      'evolution.message-store:warn',
      'chatwoot.token:ok',
      'chatwoot.inbox:ok',
      'chatwoot.webhook:ok',
      'chatwoot.webhook-secret:ok',
    ]);
    expect(exitCode).toBe(0);
    // The text form: one line per check plus a summary, no secrets.
    const text = await cli(['doctor'], env);
    expect(text.exitCode).toBe(0);
    expect(text.lines).toHaveLength(checks.length + 1);
    expect(text.lines.at(-1)).toBe('no problems, 1 warning');
    const all = text.lines.join('\n');
    for (const secret of [WEBHOOK_TOKEN, CW_SECRET, env['EVOLUTION_API_KEY'] ?? '', env['CHATWOOT_API_TOKEN'] ?? '']) expect(all).not.toContain(secret);
  });

  it('fails chatwoot.token for an agent-bot token, and for an unknown token', async () => {
    const { cw, env } = await rig();
    const bot = await doctor({ ...env, CHATWOOT_API_TOKEN: cw.botToken });
    expect(bot.exitCode).toBe(1);
    expect(failing(bot.checks)).toEqual(['chatwoot.token']);
    expect(byId(bot.checks, 'chatwoot.token')).toMatchObject({ message: expect.stringMatching(/agent-bot token/), fix: expect.stringMatching(/administrator's access token/) });
    expect(byId(bot.checks, 'chatwoot.inbox').status).toBe('warn');

    const unknown = await doctor({ ...env, CHATWOOT_API_TOKEN: 'not-a-chatwoot-token' });
    expect(failing(unknown.checks)).toEqual(['chatwoot.token']);
    expect(byId(unknown.checks, 'chatwoot.token').message).toMatch(/Invalid Access Token/);
  });

  it('fails chatwoot.inbox for the Website inbox and for an inbox that does not exist', async () => {
    const { env } = await rig();
    const web = await doctor({ ...env, CHATWOOT_INBOX_ID: '2' });
    expect(web.exitCode).toBe(1);
    expect(failing(web.checks)).toEqual(['chatwoot.inbox']);
    expect(byId(web.checks, 'chatwoot.inbox').message).toMatch(/Channel::WebWidget/);

    const missing = await doctor({ ...env, CHATWOOT_INBOX_ID: '99' });
    expect(failing(missing.checks)).toEqual(['chatwoot.inbox']);
    expect(byId(missing.checks, 'chatwoot.inbox').message).toMatch(/does not exist/);
  });

  it("fails evolution.chatwoot-integration when Evolution's built-in Chatwoot integration is enabled", async () => {
    const { evo, cw, env } = await rig();
    const res = await fetch(`${evo.url}/chatwoot/set/${INSTANCE}`, {
      method: 'POST',
      headers: { apikey: evo.apiKey, 'content-type': 'application/json' },
      body: JSON.stringify({ enabled: true, accountId: String(cw.accountId), token: cw.token, url: cw.url, signMsg: false, reopenConversation: true, conversationPending: false }),
    });
    expect(res.status).toBe(201);
    const { exitCode, checks } = await doctor(env);
    expect(exitCode).toBe(1);
    expect(failing(checks)).toEqual(['evolution.chatwoot-integration']);
    expect(byId(checks, 'evolution.chatwoot-integration').message).toMatch(/posted twice/);
  });

  it('fails evolution.events when the webhook is missing, points elsewhere, carries no or the wrong token, or omits MESSAGES_UPSERT', async () => {
    const { evo, env } = await rig();
    const cases: [string, () => void, RegExp][] = [
      ['missing', () => evo.setWebhook(INSTANCE, null), /disabled|no instance webhook/],
      ['elsewhere', () => evo.setWebhook(INSTANCE, { url: 'https://n8n.example.test/webhook/abc', headers: { authorization: `Bearer ${WEBHOOK_TOKEN}` } }), /not at evosync's \/webhooks\/evolution/],
      ['no token', () => evo.setWebhook(INSTANCE, { url: EVOSYNC_WEBHOOK_URL }), /sends no token/],
      ['wrong token', () => evo.setWebhook(INSTANCE, { url: EVOSYNC_WEBHOOK_URL, headers: { authorization: 'Bearer some-other-token-0123456789' } }), /differs from EVOSYNC_WEBHOOK_TOKEN/],
      ['events', () => evo.setWebhook(INSTANCE, { url: EVOSYNC_WEBHOOK_URL, headers: { authorization: `Bearer ${WEBHOOK_TOKEN}` }, events: ['SEND_MESSAGE', 'CONNECTION_UPDATE'] }), /does not send MESSAGES_UPSERT/],
    ];
    for (const [name, setup, reason] of cases) {
      setup();
      const { exitCode, checks } = await doctor(env);
      expect(exitCode, name).toBe(1);
      expect(failing(checks), name).toEqual(['evolution.events']);
      expect(byId(checks, 'evolution.events').message, name).toMatch(reason);
    }
    // With RabbitMQ as the ingest the webhook token may be unset: a webhook is then refused by evosync.
    goodWebhook(evo);
    const { EVOSYNC_WEBHOOK_TOKEN: _unset, ...noToken } = env;
    const refused = await doctor({ ...noToken, EVOSYNC_AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672', EVOSYNC_INSTANCES: INSTANCE });
    expect(failing(refused.checks)).toEqual(['evolution.events']);
    expect(byId(refused.checks, 'evolution.events')).toMatchObject({ message: expect.stringMatching(/EVOSYNC_WEBHOOK_TOKEN is not set.*RabbitMQ is off/), fix: expect.stringMatching(/^set EVOSYNC_WEBHOOK_TOKEN/) });
    // The global-webhook form (/t/<token>, no header) and an empty event list (= all) are fine.
    evo.setWebhook(INSTANCE, { url: `https://evosync.example.test/webhooks/evolution/t/${WEBHOOK_TOKEN}`, byEvents: true, events: [] });
    const good = await doctor(env);
    expect(byId(good.checks, 'evolution.events').status).toBe('ok');
    expect(byId(good.checks, 'evolution.events').message).not.toContain(WEBHOOK_TOKEN);
  });

  it('fails evolution.events when evosync consumes RabbitMQ but neither the webhook nor RabbitMQ is on for the instance', async () => {
    const { evo, env } = await rig();
    evo.setWebhook(INSTANCE, null);
    const { checks } = await doctor({ ...env, EVOSYNC_AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672', EVOSYNC_INSTANCES: INSTANCE });
    expect(failing(checks)).toEqual(['evolution.events']);
    expect(byId(checks, 'evolution.events').message).toMatch(/RabbitMQ is off in Evolution/);
  });

  it('fails evolution.api for a wrong Evolution key, and skips the per-instance checks', async () => {
    const { env } = await rig();
    const { exitCode, checks } = await doctor({ ...env, EVOLUTION_API_KEY: 'wrong-key' });
    expect(exitCode).toBe(1);
    expect(failing(checks)).toEqual(['evolution.api']);
    expect(byId(checks, 'evolution.api').message).toMatch(/EVOLUTION_API_KEY rejected/);
    expect(checks.some((c) => c.id === 'evolution.instance')).toBe(false);
  });

  it('warns evolution.instance when WhatsApp is not open, and fails it for an instance Evolution does not have', async () => {
    const { evo, env } = await rig();
    // The sim posts connection.update to the webhook (an unresolvable host here) and retries it.
    evo.setWebhook(INSTANCE, null);
    await evo.setConnection(INSTANCE, 'close');
    goodWebhook(evo);
    const closed = await doctor(env);
    expect(closed.exitCode).toBe(0);
    const state = byId(closed.checks, 'evolution.instance');
    expect(state.status).toBe('warn');
    expect(state.message).toMatch(/close/);

    const { exitCode, checks } = await doctor({ ...env, EVOSYNC_INSTANCES: `${INSTANCE},ghost` });
    expect(exitCode).toBe(1);
    expect(failing(checks)).toEqual(['evolution.instance']);
    expect(checks.find((c) => c.status === 'fail')?.subject).toBe('ghost');
    // --instance narrows the run to one instance.
    const one = await doctor({ ...env, EVOSYNC_INSTANCES: `${INSTANCE},ghost` }, ['--instance', INSTANCE]);
    expect(one.exitCode).toBe(0);
  });

  it('reports every config problem as a failed check instead of crashing', async () => {
    const { env } = await rig();
    const { CHATWOOT_API_TOKEN: _drop, ...rest } = env;
    const { exitCode, checks } = await doctor({ ...rest, EVOSYNC_PORT: 'eighty', EVOSYNC_TYPO: '1' });
    expect(exitCode).toBe(1);
    expect(checks.every((c) => c.id === 'config' && c.status === 'fail')).toBe(true);
    const messages = checks.map((c) => c.message).join('\n');
    expect(messages).toMatch(/CHATWOOT_API_TOKEN: required/);
    expect(messages).toMatch(/EVOSYNC_PORT/);
    expect(messages).toMatch(/EVOSYNC_TYPO: unknown setting/);
  });

  it('warns ledger when migrations are pending, or the SQLite file does not exist yet', async () => {
    const { env } = await rig();
    const fresh = tempSqliteUrl();
    const missing = await doctor({ ...env, EVOSYNC_DATABASE_URL: fresh });
    expect(byId(missing.checks, 'ledger')).toMatchObject({ status: 'warn', message: expect.stringMatching(/does not exist yet/) });
    // Doctor must not create it.
    const again = await doctor({ ...env, EVOSYNC_DATABASE_URL: fresh });
    expect(byId(again.checks, 'ledger').message).toMatch(/does not exist yet/);

    const conn = await connect(fresh, { exclusive: false }); // creates an empty, unmigrated file
    await conn.close();
    const pending = await doctor({ ...env, EVOSYNC_DATABASE_URL: fresh });
    expect(pending.exitCode).toBe(0);
    const total = Object.keys(await migrationProvider('sqlite').getMigrations()).length;
    expect(total).toBeGreaterThanOrEqual(3);
    expect(byId(pending.checks, 'ledger')).toMatchObject({ status: 'warn', message: expect.stringMatching(new RegExp(`${total} of ${total} migrations pending`)) });
  });
  it("fails chatwoot.webhook when the inbox callback is missing, points at Evolution's built-in integration or another host, or lacks the token Chatwoot < 4.13 needs", async () => {
    const { cw, env } = await rig();
    const cases: [string, string | null, RegExp][] = [
      ['missing', null, /no webhook URL: agent replies never reach WhatsApp/],
      ['built-in', 'https://evo.example.test/chatwoot/webhook/inst', /Evolution's built-in integration/],
      ['elsewhere', 'https://old-host.example.test/webhooks/chatwoot', /not at evosync's https:\/\/evosync\.example\.test\/webhooks\/chatwoot \(EVOSYNC_PUBLIC_URL\)/],
    ];
    for (const [name, url, reason] of cases) {
      cw.setInboxWebhook(url);
      const { exitCode, checks } = await doctor(env);
      expect(exitCode, name).toBe(1);
      expect(failing(checks), name).toEqual(['chatwoot.webhook']);
      expect(byId(checks, 'chatwoot.webhook'), name).toMatchObject({ message: expect.stringMatching(reason), fix: expect.stringMatching(/evosync setup/) });
    }

    // Chatwoot before 4.13 (no secret column): only a token in the URL can authenticate it.
    const legacy = 'legacy-doctor-token-0123456789';
    const { CHATWOOT_WEBHOOK_SECRET: _secret, ...unsigned } = env;
    cw.setInboxWebhook(`${PUBLIC_URL}/webhooks/chatwoot`, null);
    const noSetting = await doctor(unsigned);
    expect(failing(noSetting.checks)).toEqual(['chatwoot.webhook']);
    expect(byId(noSetting.checks, 'chatwoot.webhook').message).toMatch(/signs nothing.*EVOSYNC_CHATWOOT_WEBHOOK_TOKEN is not set/);
    const noQuery = await doctor({ ...unsigned, EVOSYNC_CHATWOOT_WEBHOOK_TOKEN: legacy });
    expect(byId(noQuery.checks, 'chatwoot.webhook').message).toMatch(/carries no \?token=/);
    cw.setInboxWebhook(`${PUBLIC_URL}/webhooks/chatwoot?token=some-other-token-0123456789`);
    const wrong = await doctor({ ...unsigned, EVOSYNC_CHATWOOT_WEBHOOK_TOKEN: legacy });
    expect(byId(wrong.checks, 'chatwoot.webhook').message).toMatch(/differs from EVOSYNC_CHATWOOT_WEBHOOK_TOKEN/);
    cw.setInboxWebhook(`${PUBLIC_URL}/webhooks/chatwoot?token=${legacy}`);
    const right = await doctor({ ...unsigned, EVOSYNC_CHATWOOT_WEBHOOK_TOKEN: legacy });
    expect(right.exitCode).toBe(0);
    expect(byId(right.checks, 'chatwoot.webhook').status).toBe('ok');
    expect(byId(right.checks, 'chatwoot.webhook-secret')).toMatchObject({ status: 'ok', message: expect.stringMatching(/signs nothing/) });
    expect(JSON.stringify(right.checks)).not.toContain(legacy);
  });

  it('fails chatwoot.webhook-secret when CHATWOOT_WEBHOOK_SECRET is unset or not the inbox secret; a rotation list passes; an agent token only warns', async () => {
    const { cw, env } = await rig();
    const wrong = await doctor({ ...env, CHATWOOT_WEBHOOK_SECRET: 'some-other-secret-0123456789' });
    expect(wrong.exitCode).toBe(1);
    expect(failing(wrong.checks)).toEqual(['chatwoot.webhook-secret']);
    expect(byId(wrong.checks, 'chatwoot.webhook-secret')).toMatchObject({ message: expect.stringMatching(/does not match the inbox's signing secret \(doct…\(32 characters\)\)/), fix: expect.stringMatching(/jq -r \.secret/) });
    expect(JSON.stringify(wrong.checks)).not.toContain(CW_SECRET);

    const { CHATWOOT_WEBHOOK_SECRET: _secret, ...unset } = env;
    const missing = await doctor(unset);
    expect(failing(missing.checks)).toEqual(['chatwoot.webhook-secret']);
    expect(byId(missing.checks, 'chatwoot.webhook-secret').message).toMatch(/CHATWOOT_WEBHOOK_SECRET is not set: evosync refuses every agent reply/);

    const rotating = await doctor({ ...env, CHATWOOT_WEBHOOK_SECRET: `previous-secret-0123456789,${CW_SECRET}` });
    expect(byId(rotating.checks, 'chatwoot.webhook-secret').status).toBe('ok');

    const agent = await doctor({ ...env, CHATWOOT_API_TOKEN: cw.agentToken });
    expect(agent.exitCode).toBe(0);
    expect(byId(agent.checks, 'chatwoot.webhook-secret')).toMatchObject({ status: 'warn', message: expect.stringMatching(/admin-only/) });
  });

  it('fails evolution.events when the instance webhook points at another host than EVOSYNC_PUBLIC_URL', async () => {
    const { evo, env } = await rig();
    evo.setWebhook(INSTANCE, { url: 'https://old-evosync.example.test/webhooks/evolution', headers: { authorization: `Bearer ${WEBHOOK_TOKEN}` } });
    const { checks } = await doctor(env);
    expect(failing(checks)).toEqual(['evolution.events']);
    expect(byId(checks, 'evolution.events').message).toMatch(/not at evosync's https:\/\/evosync\.example\.test\/webhooks\/evolution \(EVOSYNC_PUBLIC_URL\)/);
  });

  it("infers DATABASE_SAVE_DATA_NEW_MESSAGE from Evolution's store: ok when what it published to evosync is stored, failed when not", { timeout: 30_000 }, async () => {
    const later = () => Date.now() + 60_000;
    for (const save of [true, false]) {
      const { evo, env } = await rig({ saveNewMessages: save });
      const appEnv = { ...env, EVOSYNC_DATABASE_URL: tempSqliteUrl(), EVOSYNC_INSTANCES: INSTANCE, EVOSYNC_HOST: '127.0.0.1', EVOSYNC_PORT: '0', EVOSYNC_ORDER_WINDOW_MS: '0', EVOSYNC_RECONCILE_INTERVAL_MS: '0', EVOSYNC_LOG_LEVEL: 'silent' };
      expect((await cli(['migrate'], { EVOSYNC_DATABASE_URL: appEnv.EVOSYNC_DATABASE_URL })).exitCode).toBe(0);
      // Nothing received yet: nothing to look for, so only the reminder.
      const before = await runDoctor(appEnv, { now: later });
      expect(byId(before.checks, 'evolution.message-store')).toMatchObject({ status: 'warn', message: expect.stringMatching(/not confirmed yet/) });

      const app = await createEvosync(loadConfig(appEnv), { logger: createLogger('silent') });
      cleanup.push(() => app.stop());
      const address = await app.listen();
      evo.setWebhook(INSTANCE, { url: `${address}/webhooks/evolution`, headers: { authorization: `Bearer ${WEBHOOK_TOKEN}` } });
      await evo.run({ instance: INSTANCE, chats: 2, messages: 4, kinds: { text: 1 }, fromMeRate: 0, groupRate: 0, lidRate: 0 });
      const deadline = Date.now() + 10_000;
      while ((await app.ledger.listMessages({ instance: INSTANCE, direction: 'to_chatwoot', limit: 100 })).length < 4) {
        if (Date.now() > deadline) throw new Error('messages did not reach the ledger');
        await new Promise((r) => setTimeout(r, 50));
      }
      // Just received: Evolution may not have written them yet, so they are not judged.
      const early = await runDoctor(appEnv);
      expect(byId(early.checks, 'evolution.message-store').status, `save=${save}`).toBe('warn');

      const { checks } = await runDoctor(appEnv, { now: later });
      const store = byId(checks, 'evolution.message-store');
      if (save) expect(store).toMatchObject({ status: 'ok', message: expect.stringMatching(/4 of the 4 latest evosync received are in its store/) });
      else expect(store).toMatchObject({ status: 'fail', subject: INSTANCE, message: expect.stringMatching(/DATABASE_SAVE_DATA_NEW_MESSAGE is off/), fix: expect.stringMatching(/DATABASE_SAVE_DATA_NEW_MESSAGE=true/) });
      await app.stop();
    }
  });
});
