import { describe, expect, it } from 'vitest';
import { judgeRabbitmq, judgeWebhook } from '../../src/doctor/evolution.js';
import { redactUrl } from '../../src/doctor/types.js';

const TOKEN = 'unit-webhook-token-0123456789';

describe('doctor verdicts', () => {
  it('accepts evosync webhooks with the token in a header, the /t/ path or the query (not with byEvents)', () => {
    expect(judgeWebhook({ enabled: true, url: 'https://e.example/webhooks/evolution', headers: { 'X-Evosync-Token': TOKEN }, events: ['MESSAGES_UPSERT', 'SEND_MESSAGE'] }, TOKEN).ok).toBe(true);
    expect(judgeWebhook({ enabled: true, url: `https://e.example/webhooks/evolution/t/${TOKEN}/`, events: [] }, TOKEN).ok).toBe(true);
    expect(judgeWebhook({ enabled: true, url: `https://e.example/webhooks/evolution?token=${TOKEN}`, events: [] }, TOKEN).ok).toBe(true);
    expect(judgeWebhook({ enabled: true, url: `https://e.example/webhooks/evolution?token=${TOKEN}`, webhookByEvents: true, events: [] }, TOKEN)).toMatchObject({ ok: false, reason: expect.stringMatching(/mangled/) });
    expect(judgeWebhook({ enabled: true, url: 'https://e.example/webhooks/evolution', headers: { jwt_key: 'x' }, events: [] }, TOKEN)).toMatchObject({ ok: false, reason: expect.stringMatching(/jwt_key/) });
    expect(judgeWebhook({ enabled: true, url: 'https://e.example/webhooks/evolution', headers: { authorization: `Bearer ${TOKEN}` }, events: ['MESSAGES_UPSERT'] }, TOKEN)).toMatchObject({ ok: false, reason: expect.stringMatching(/SEND_MESSAGE/) });
    expect(judgeWebhook(null, TOKEN).ok).toBe(false);
  });

  it('accepts per-instance RabbitMQ only when enabled with the message events', () => {
    expect(judgeRabbitmq({ enabled: true, events: [] }).ok).toBe(true);
    expect(judgeRabbitmq({ enabled: true, events: ['MESSAGES_UPSERT', 'SEND_MESSAGE'] }).ok).toBe(true);
    expect(judgeRabbitmq({ enabled: true, events: ['MESSAGES_UPSERT'] })).toMatchObject({ ok: false, reason: expect.stringMatching(/SEND_MESSAGE/) });
    expect(judgeRabbitmq({ enabled: false, events: [] }).ok).toBe(false);
    expect(judgeRabbitmq('')).toMatchObject({ ok: false, reason: expect.stringMatching(/RABBITMQ_ENABLED/) });
  });

  it('never prints a token or credentials in a URL', () => {
    expect(redactUrl(`https://u:p@e.example/webhooks/evolution/t/${TOKEN}?token=${TOKEN}`)).toBe('https://e.example/webhooks/evolution/t/<token>?…');
  });
});
