import { describe, expect, it } from 'vitest';
import { createChatwootSim, type ChatwootSim } from '../../sim/chatwoot/index.js';
import { createEvosync, type Evosync } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { createLogger } from '../../src/lib/logger.js';
import { tempSqliteUrl } from '../helpers/services.js';
import { cleanups } from '../helpers/lifecycle.js';

const WEBHOOK_TOKEN = 'dash-webhook-token-0123456789';
const USER = 'operator';
const PASSWORD = 'correct horse battery staple';
const INSTANCE = 'desk';

const cleanup = cleanups();

const baseEnv = (cw: ChatwootSim | null): Record<string, string> => ({
  EVOSYNC_DATABASE_URL: tempSqliteUrl(),
  CHATWOOT_URL: cw?.url ?? 'http://127.0.0.1:9', CHATWOOT_API_TOKEN: cw?.token ?? 't', CHATWOOT_ACCOUNT_ID: String(cw?.accountId ?? 1), CHATWOOT_INBOX_ID: String(cw?.inboxId ?? 1),
  EVOSYNC_WEBHOOK_TOKEN: WEBHOOK_TOKEN, EVOSYNC_LOG_LEVEL: 'silent', EVOSYNC_ORDER_WINDOW_MS: '0', EVOSYNC_RECONCILE_INTERVAL_MS: '0',
});

async function start(env: Record<string, string>): Promise<Evosync> {
  const app = await createEvosync(loadConfig(env), { logger: createLogger('silent') });
  cleanup.push(() => app.stop());
  return app;
}

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

async function login(app: Evosync, password = PASSWORD, headers: Record<string, string> = {}) {
  return app.server.inject({ method: 'POST', url: '/login', headers: { ...FORM, ...headers }, payload: form({ user: USER, password }) });
}

function sessionCookie(res: { headers: Record<string, unknown> }): string {
  const set = String(res.headers['set-cookie'] ?? '');
  const m = /evosync_session=([^;]+)/.exec(set);
  if (!m) throw new Error(`no session cookie in ${set}`);
  return `evosync_session=${m[1]}`;
}

const csrfOf = (page: string) => /name="csrf" value="([^"]+)"/.exec(page)?.[1] ?? '';

/** A message Chatwoot fails with a 5xx on its only attempt (EVOSYNC_MAX_ATTEMPTS=1): dead at once. */
async function deadMessage(app: Evosync, id: string, text = 'hello') {
  await app.server.inject({
    method: 'POST', url: '/webhooks/evolution', headers: { authorization: `Bearer ${WEBHOOK_TOKEN}`, 'content-type': 'application/json' },
    payload: JSON.stringify({ event: 'messages.upsert', instance: INSTANCE, destination: 'x', date_time: '2025-01-01T00:00:00.000Z', sender: null, server_url: 'x', apikey: null, data: { key: { remoteJid: '5511999990042@s.whatsapp.net', fromMe: false, id }, pushName: 'Ana', message: { conversation: text }, messageType: 'conversation', messageTimestamp: 1729512000 } }),
  });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const m = await app.ledger.getMessage(INSTANCE, id);
    if (m?.state === 'dead') return m;
    if (Date.now() > deadline) throw new Error(`message not dead: ${JSON.stringify(m)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('dashboard configuration', () => {
  it('is off without a login: / says so and nothing else is served', async () => {
    const app = await start(baseEnv(null));
    const res = await app.server.inject({ method: 'GET', url: '/' });
    expect(res.statusCode).toBe(404);
    expect(res.body).toContain('The dashboard is off');
    expect(res.body).toContain('EVOSYNC_DASHBOARD_USER');
    expect((await app.server.inject({ method: 'GET', url: '/login' })).statusCode).toBe(404);
    expect((await login(app)).statusCode).toBe(404);
  });

  it('refuses to start half-configured, naming the variable that is missing', () => {
    const env = baseEnv(null);
    const problems = (extra: Record<string, string>) => {
      try {
        loadConfig({ ...env, ...extra });
        return [];
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return [...(error as ConfigError).problems];
      }
    };
    expect(problems({ EVOSYNC_DASHBOARD_USER: USER })).toEqual(['EVOSYNC_DASHBOARD_PASSWORD: required with EVOSYNC_DASHBOARD_USER (the dashboard needs both; unset both to turn it off)']);
    expect(problems({ EVOSYNC_DASHBOARD_PASSWORD: PASSWORD })).toEqual(['EVOSYNC_DASHBOARD_USER: required with EVOSYNC_DASHBOARD_PASSWORD (the dashboard needs both; unset both to turn it off)']);
    expect(problems({ EVOSYNC_DASHBOARD_USER: USER, EVOSYNC_DASHBOARD_PASSWORD: 'short' })).toEqual(['EVOSYNC_DASHBOARD_PASSWORD: must be at least 12 characters']);
    expect(loadConfig({ ...env, EVOSYNC_DASHBOARD_USER: USER, EVOSYNC_DASHBOARD_PASSWORD: PASSWORD }).dashboard).toEqual({ user: USER, password: PASSWORD });
  });
});

describe('dashboard login', () => {
  it('sends strangers to the login, sets a signed HttpOnly SameSite=Strict cookie, and rejects a tampered one', async () => {
    const app = await start({ ...baseEnv(null), EVOSYNC_DASHBOARD_USER: USER, EVOSYNC_DASHBOARD_PASSWORD: PASSWORD });
    const anon = await app.server.inject({ method: 'GET', url: '/' });
    expect(anon.statusCode).toBe(303);
    expect(anon.headers.location).toBe('/login');
    const page = await app.server.inject({ method: 'GET', url: '/login' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    expect(page.body).not.toContain(PASSWORD);

    const wrong = await login(app, 'not the password at all');
    expect(wrong.statusCode).toBe(401);
    expect(wrong.headers['set-cookie']).toBeUndefined();

    const ok = await login(app);
    expect(ok.statusCode).toBe(303);
    expect(ok.headers.location).toBe('/');
    const set = String(ok.headers['set-cookie']);
    expect(set).toMatch(/HttpOnly/);
    expect(set).toMatch(/SameSite=Strict/);
    expect(set).not.toContain(PASSWORD);
    const cookie = sessionCookie(ok);

    const home = await app.server.inject({ method: 'GET', url: '/', headers: { cookie } });
    expect(home.statusCode).toBe(200);
    expect(home.headers['cache-control']).toBe('no-store');
    expect(home.body).toContain('Overview');
    expect(home.body).not.toContain(PASSWORD);
    expect(home.body).not.toContain(WEBHOOK_TOKEN);

    // Any change to the signed cookie (here: its payload claims another user) is refused.
    const [payload, sig] = cookie.slice('evosync_session='.length).split('.');
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), u: 'admin' })).toString('base64url');
    expect((await app.server.inject({ method: 'GET', url: '/', headers: { cookie: `evosync_session=${forged}.${sig}` } })).statusCode).toBe(303);
    expect((await app.server.inject({ method: 'GET', url: '/', headers: { cookie: `${cookie}x` } })).statusCode).toBe(303);

    // Logging out revokes the session even though the browser could keep the cookie.
    const logout = await app.server.inject({ method: 'POST', url: '/logout', headers: { ...FORM, cookie }, payload: form({ csrf: csrfOf(home.body) }) });
    expect(logout.statusCode).toBe(303);
    expect((await app.server.inject({ method: 'GET', url: '/', headers: { cookie } })).statusCode).toBe(303);
  });

  it('rate-limits failed logins per client, even when the next guess is right', async () => {
    const app = await start({ ...baseEnv(null), EVOSYNC_DASHBOARD_USER: USER, EVOSYNC_DASHBOARD_PASSWORD: PASSWORD });
    for (let i = 0; i < 5; i++) expect((await login(app, `guess number ${i}!!`)).statusCode).toBe(401);
    const blocked = await login(app);
    expect(blocked.statusCode).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    expect(blocked.headers['set-cookie']).toBeUndefined();
  });

  it('refuses a login form posted from another origin', async () => {
    const app = await start({ ...baseEnv(null), EVOSYNC_DASHBOARD_USER: USER, EVOSYNC_DASHBOARD_PASSWORD: PASSWORD });
    const res = await login(app, PASSWORD, { origin: 'https://evil.example', host: 'evosync.local' });
    expect(res.statusCode).toBe(403);
    expect(res.headers['set-cookie']).toBeUndefined();
  });
});

describe('dashboard actions', () => {
  it('discards a dead message only with the form token, and shows it as skipped "discarded by operator"', async () => {
    const cw = await createChatwootSim({ seed: 9 });
    cleanup.push(() => cw.close());
    cw.setFaults({ errorRate: 1 });
    const app = await start({ ...baseEnv(cw), EVOSYNC_DASHBOARD_USER: USER, EVOSYNC_DASHBOARD_PASSWORD: PASSWORD, EVOSYNC_MAX_ATTEMPTS: '1' });
    const dead = await deadMessage(app, 'DEAD-1', '<script>alert(1)</script>');
    const cookie = sessionCookie(await login(app));
    const home = await app.server.inject({ method: 'GET', url: '/', headers: { cookie } });
    expect(home.body).toContain('DEAD-1');
    expect(home.body).toContain('CHATWOOT_SERVER_ERROR');
    const csrf = csrfOf(home.body);
    expect(csrf).not.toBe('');

    const url = `/messages/${dead.id}/discard`;
    const noToken = await app.server.inject({ method: 'POST', url, headers: { ...FORM, cookie }, payload: form({}) });
    expect(noToken.statusCode).toBe(403);
    const wrongToken = await app.server.inject({ method: 'POST', url, headers: { ...FORM, cookie }, payload: form({ csrf: `${csrf.slice(0, -2)}AA` }) });
    expect(wrongToken.statusCode).toBe(403);
    const foreign = await app.server.inject({ method: 'POST', url, headers: { ...FORM, cookie, origin: 'https://evil.example', host: 'evosync.local' }, payload: form({ csrf }) });
    expect(foreign.statusCode).toBe(403);
    const noSession = await app.server.inject({ method: 'POST', url, headers: FORM, payload: form({ csrf }) });
    expect(noSession.statusCode).toBe(303);
    expect((await app.ledger.getMessage(INSTANCE, 'DEAD-1'))?.state).toBe('dead');

    const done = await app.server.inject({ method: 'POST', url, headers: { ...FORM, cookie }, payload: form({ csrf }) });
    expect(done.statusCode).toBe(303);
    expect(done.headers.location).toBe('/?done=discarded');
    expect(await app.ledger.getMessage(INSTANCE, 'DEAD-1')).toMatchObject({ state: 'skipped', lastError: expect.stringMatching(/^discarded by operator \(last error: CHATWOOT_SERVER_ERROR/) });
    const again = await app.server.inject({ method: 'POST', url, headers: { ...FORM, cookie }, payload: form({ csrf }) });
    expect(again.headers.location).toBe('/?done=not_dead');

    // The trace page shows the decision, and the message text only escaped.
    const trace = await app.server.inject({ method: 'GET', url: '/trace/DEAD-1', headers: { cookie } });
    expect(trace.statusCode).toBe(200);
    expect(trace.body).toContain('data-state="skipped"');
    expect(trace.body).toContain('discarded by operator');
    expect(trace.body).not.toContain('<script>alert(1)</script>');
    expect(trace.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');

    const search = await app.server.inject({ method: 'GET', url: '/messages?q=5511999990042', headers: { cookie } });
    expect(search.body).toContain('DEAD-1');
  });
});
