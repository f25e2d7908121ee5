import { describe, expect, it } from 'vitest';
import type { Evosync } from '../../src/app.js';
import { DASHBOARD_PASSWORD as PASSWORD, DASHBOARD_USER as USER, DASHBOARD_WEBHOOK_TOKEN as WEBHOOK_TOKEN, startDashboardApp } from '../helpers/dashboard-app.js';
import { cleanups, until } from '../helpers/lifecycle.js';
import { SseClient } from '../helpers/sse.js';

const INSTANCE = 'desk';

const cleanup = cleanups();

function start(env: Record<string, string> = {}, heartbeatMs?: number): Promise<{ app: Evosync; address: string }> {
  return startDashboardApp(cleanup, { seed: 31, env, ...(heartbeatMs ? { heartbeatMs } : {}) });
}

async function login(app: Evosync): Promise<string> {
  const res = await app.server.inject({ method: 'POST', url: '/login', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams({ user: USER, password: PASSWORD }).toString() });
  const m = /evosync_session=([^;]+)/.exec(String(res.headers['set-cookie'] ?? ''));
  if (!m) throw new Error('no session cookie');
  return `evosync_session=${m[1]}`;
}

async function postMessage(address: string, id: string): Promise<void> {
  const res = await fetch(`${address}/webhooks/evolution`, {
    method: 'POST',
    headers: { authorization: `Bearer ${WEBHOOK_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ event: 'messages.upsert', instance: INSTANCE, destination: 'x', date_time: '2025-01-01T00:00:00.000Z', sender: null, server_url: 'x', apikey: null, data: { key: { remoteJid: '5511977776666@s.whatsapp.net', fromMe: false, id }, pushName: 'Ana', message: { conversation: `hello ${id}` }, messageType: 'conversation', messageTimestamp: Math.floor(Date.now() / 1000) } }),
  });
  expect(res.status).toBe(200);
}

describe('dashboard live updates (GET /live, /live/overview, /dashboard.js)', () => {
  it('refuses the stream and the fragment without a session, serves the script, and allows scripts on the overview only', async () => {
    const { app } = await start();
    for (const url of ['/live', '/live/overview', '/dashboard.js']) {
      for (const cookie of [undefined, 'evosync_session=eyJ1IjoiYSJ9.forged']) {
        const res = await app.server.inject({ method: 'GET', url, headers: cookie ? { cookie } : {} });
        expect([res.statusCode, res.json<{ error: string }>().error], url).toEqual([401, 'DASHBOARD_UNAUTHORIZED']);
      }
    }

    const cookie = await login(app);
    const script = await app.server.inject({ method: 'GET', url: '/dashboard.js', headers: { cookie } });
    expect(script.statusCode).toBe(200);
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(script.headers['x-content-type-options']).toBe('nosniff');
    expect(script.body).toContain("new EventSource('/live')");
    const again = await app.server.inject({ method: 'GET', url: '/dashboard.js', headers: { cookie, 'if-none-match': String(script.headers.etag) } });
    expect(again.statusCode).toBe(304);

    const home = await app.server.inject({ method: 'GET', url: '/', headers: { cookie } });
    const csp = String(home.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toMatch(/script-src[^;]*unsafe/);
    expect(home.body).toMatch(/<script src="\/dashboard\.js\?v=[\w-]+" defer><\/script>/);
    // No inline script anywhere: every <script> names a file.
    expect(home.body.match(/<script(?![^>]*\ssrc=)/g)).toBeNull();
    expect(home.body).toContain('<span id="live-state" class="badge" hidden></span>');
    for (const url of ['/login', '/messages?q=x', '/trace/none']) {
      const other = await app.server.inject({ method: 'GET', url, headers: { cookie } });
      expect(String(other.headers['content-security-policy']), url).not.toContain('script-src');
      expect(other.body, url).not.toContain('<script');
    }

    // The fragment is the overview's live parts, rendered by the same views.
    const fragment = await app.server.inject({ method: 'GET', url: '/live/overview', headers: { cookie } });
    expect(fragment.statusCode).toBe(200);
    expect(fragment.headers['cache-control']).toBe('no-store');
    expect(fragment.body).toMatch(/^<div id="live-summary" data-live>/);
    expect(fragment.body).toContain('<div id="live-runs" data-live>');
    // Byte for byte what the page has in those places (same session, same csrf token).
    const [summary, runs] = fragment.body.split(/(?=<div id="live-runs")/);
    expect(home.body).toContain(summary);
    expect(home.body).toContain(runs);
  });

  it('pushes a change when a message arrives and is delivered, beats while quiet, and ends the stream of a session that logged out', async () => {
    const { app, address } = await start({}, 200);
    const cookie = await login(app);
    const sse = await SseClient.open(`${address}/live`, { cookie });
    cleanup.push(async () => sse.close());
    expect(sse.status).toBe(200);
    expect((await sse.waitFor('mode')).data).toBe(JSON.stringify({ mode: 'local', ledgerPollMs: 5000 }));

    const sent = Date.now();
    await postMessage(address, 'LIVE-1');
    const delivered = await sse.waitFor('change', (d) => ((d as { changes: Record<string, { delivered?: number }> }).changes[INSTANCE]?.delivered ?? 0) > 0, 5000);
    // Coalesced (500 ms by default), never slower than a couple of windows.
    expect(delivered.at - sent).toBeLessThan(2000);
    const received = sse.events.filter((e) => e.event === 'change').map((e) => JSON.parse(e.data) as { via: string[]; changes: Record<string, Record<string, number>> });
    expect(received.every((c) => c.via.every((v) => v === 'local'))).toBe(true);
    expect(received.reduce((n, c) => n + (c.changes[INSTANCE]?.['received'] ?? 0), 0)).toBe(1);
    const fragment = await app.server.inject({ method: 'GET', url: '/live/overview', headers: { cookie } });
    expect(fragment.body).toMatch(/data-stat="delivered"><b>1<\/b>/);

    // Heartbeats while nothing happens (the test runs them every 200 ms instead of 15 s).
    const beats = sse.comments.length;
    await until('two heartbeats', () => sse.comments.length >= beats + 2, 3000);
    expect(sse.comments.at(-1)).toBe('heartbeat');

    // Logging out ends the stream at the next heartbeat; a new one is refused.
    const home = await app.server.inject({ method: 'GET', url: '/', headers: { cookie } });
    const csrf = /name="csrf" value="([^"]+)"/.exec(home.body)?.[1] ?? '';
    await app.server.inject({ method: 'POST', url: '/logout', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie }, payload: new URLSearchParams({ csrf }).toString() });
    await until('the stream to end', () => sse.ended, 3000);
    const refused = await SseClient.open(`${address}/live`, { cookie });
    expect(refused.status).toBe(401);
    refused.close();
  });

  it('ends open streams when evosync stops, without waiting out the shutdown grace', async () => {
    const { app, address } = await start({ EVOSYNC_SHUTDOWN_GRACE_MS: '20000' });
    const cookie = await login(app);
    const streams = await Promise.all([1, 2, 3].map(() => SseClient.open(`${address}/live`, { cookie })));
    for (const s of streams) await s.waitFor('mode');
    const startedAt = Date.now();
    await app.stop();
    const tookMs = Date.now() - startedAt;
    expect(tookMs).toBeLessThan(3000);
    await until('every stream to end', () => streams.every((s) => s.ended), 2000);
    // And nothing is left listening in the live feed.
    expect(app.live.stats()['listeners']).toBe(0);
  });
});
