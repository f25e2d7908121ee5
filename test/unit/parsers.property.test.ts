import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { brazilAlternate } from '../../src/chatwoot/brazil-phone.js';
import { markdownToWhatsApp } from '../../src/chatwoot/markdown-to-whatsapp.js';
import { classifyChatwootWebhook } from '../../src/chatwoot/webhook-payload.js';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { extractContent } from '../../src/evolution/content.js';
import { isGroup, isLid, isPhoneJid, normalizePhoneJid, phoneDigits } from '../../src/evolution/jid.js';
import { normalizeEnvelope } from '../../src/evolution/normalize.js';
import { normalizeDeleteEvent, normalizeProtocolEvent } from '../../src/evolution/normalize-events.js';
import { normalizeReceipts } from '../../src/evolution/receipts.js';
import { jsonDeeperThan, jsonErrorReason } from '../../src/lib/json-guard.js';
import { type FixtureKind, messageRaw } from '../fixtures/evolution-messages.js';
import { mutatedPayload, realChatwootWebhooks, realEvolutionEnvelopes } from '../helpers/payload-mutations.js';

/**
 * Every parser and normaliser evosync runs on input from the internet, fed arbitrary values and
 * real payloads broken in the ways a buggy sender or an attacker would: keys deleted, types
 * changed, prototype-named keys, deep nesting, huge and exotic strings. None may throw; each must
 * answer with one of its documented outcomes, and a refusal must say why.
 */
const RUNS = { numRuns: 150 };
const NOW = 1_760_000_000_000;
const KINDS = ['messages', 'control', 'ignored', 'refused'];

function expectNormalized(n: ReturnType<typeof normalizeEnvelope>): void {
  expect(KINDS).toContain(n.kind);
  if (n.kind === 'refused') expect(n.reason.length).toBeGreaterThan(0);
  if (n.kind === 'messages') {
    for (const m of n.messages) {
      expect(typeof m.waId).toBe('string');
      expect(m.waId.length).toBeGreaterThan(0);
      expect(typeof m.chat).toBe('string');
      expect(Number.isFinite(m.timestamp)).toBe(true);
      if ('content' in m) {
        expect(typeof m.content.text).toBe('string');
        if (m.content.media) expect(['image', 'video', 'audio', 'voice', 'document', 'sticker']).toContain(m.content.media.kind);
      }
    }
  }
}

describe('normalizeEnvelope', () => {
  it('never throws on arbitrary JSON values', () => {
    fc.assert(fc.property(fc.jsonValue(), (v) => expectNormalized(normalizeEnvelope(v, { nowMs: NOW }))), RUNS);
  });

  it('never throws on envelopes of every event with arbitrary data', () => {
    const event = fc.constantFrom('messages.upsert', 'send.message', 'messages.update', 'messages.delete', 'messages.edited', 'send.message.update', 'connection.update', 'MESSAGES_UPSERT', 'qrcode.updated', '__proto__', 'constructor');
    fc.assert(fc.property(event, fc.jsonValue(), fc.option(fc.string()), (ev, data, pathEvent) => {
      expectNormalized(normalizeEnvelope({ event: ev, instance: 'p', data, sender: '5511900000000@s.whatsapp.net' }, { nowMs: NOW, ...(pathEvent ? { pathEvent } : {}) }));
    }), RUNS);
  });

  it('never throws on real payloads of every kind, mutated; a refusal names its reason', () => {
    const envelopes = realEvolutionEnvelopes();
    fc.assert(fc.property(mutatedPayload(envelopes), (body) => expectNormalized(normalizeEnvelope(body, { nowMs: NOW }))), { numRuns: 400 });
  });

  it('a prototype-named messageType or content key never turns the prototype into a message body', () => {
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      const raw = JSON.parse(`{"key":{"id":"P1","remoteJid":"5511900000001@s.whatsapp.net","fromMe":false},"messageTimestamp":1760000000,"messageType":"${name}","message":{"${name}":{"caption":"x"}}}`) as unknown;
      const n = normalizeEnvelope({ event: 'messages.upsert', instance: 'p', data: raw }, { nowMs: NOW });
      expectNormalized(n);
      if (n.kind === 'messages') for (const m of n.messages) if ('content' in m) expect(m.content.media).toBeNull();
    }
  });
});

describe('edits, deletes and receipts', () => {
  it('normalizeProtocolEvent, normalizeDeleteEvent and normalizeReceipts never throw', () => {
    const ctx = { instance: 'p', ownJid: '5511900000000@s.whatsapp.net', nowMs: NOW };
    const real = [
      { key: { id: 'E1', remoteJid: '5511900000001@s.whatsapp.net', fromMe: true }, type: 'MESSAGE_EDIT', editedMessage: { conversation: 'new' }, timestampMs: '1760000000000' },
      { key: { id: 'D1', remoteJid: '5511900000001@s.whatsapp.net', fromMe: false }, status: 'DELETED', messageTimestamp: 1760000000 },
      { keyId: 'R1', remoteJid: '5511900000001@s.whatsapp.net', fromMe: true, status: 'READ', instanceId: 'x' },
    ];
    fc.assert(fc.property(fc.oneof(fc.jsonValue(), mutatedPayload(real)), (data) => {
      for (const r of [normalizeProtocolEvent(ctx, data), normalizeDeleteEvent(ctx, data)]) {
        if ('refused' in r) expect(r.refused.length).toBeGreaterThan(0);
        else for (const i of r.items) expect(typeof i.waId).toBe('string');
      }
      expectNormalized(normalizeReceipts('p', data, NOW));
    }), { numRuns: 300 });
  });
});

describe('extractContent', () => {
  it('always yields text and, for media, one of the known kinds', () => {
    const kinds: FixtureKind[] = ['image', 'video', 'ptt', 'document', 'documentWithCaption', 'sticker', 'ephemeralImage', 'viewOnceImage', 'location', 'contactsArray', 'poll', 'reaction', 'interactiveResponse', 'unknown', 'text', 'reply'];
    const messages = kinds.map((k) => messageRaw(k, { id: `X${k}`, ts: 1_760_000_000 }).message as Record<string, unknown>);
    const hint = fc.option(fc.oneof(fc.string(), fc.constantFrom('__proto__', 'constructor', 'imageMessage', 'conversation', 'unknown')));
    fc.assert(fc.property(fc.oneof(fc.dictionary(fc.string(), fc.jsonValue()), mutatedPayload(messages)), hint, fc.option(fc.dictionary(fc.string(), fc.jsonValue())), (m, h, ctx) => {
      const c = extractContent(m && typeof m === 'object' && !Array.isArray(m) ? (m as Record<string, unknown>) : null, h, ctx);
      expect(typeof c.text).toBe('string');
      expect(typeof c.type).toBe('string');
      if (c.media) expect(['image', 'video', 'audio', 'voice', 'document', 'sticker']).toContain(c.media.kind);
    }), { numRuns: 300 });
  });
});

describe('JID and phone helpers', () => {
  const jid = fc.oneof(
    fc.string(),
    fc.tuple(fc.stringMatching(/^\d{1,22}$/), fc.option(fc.stringMatching(/^:\d{1,3}$/), { nil: '' }), fc.constantFrom('@s.whatsapp.net', '@c.us', '@lid', '@g.us', '@broadcast', '')).map(([d, dev, s]) => `${d}${dev}${s}`),
  );

  it('phoneDigits is null or 5–20 digits; normalizePhoneJid is idempotent and keeps the kind of JID', () => {
    fc.assert(fc.property(jid, (j) => {
      const d = phoneDigits(j);
      if (d !== null) expect(d).toMatch(/^\d{5,20}$/);
      const n = normalizePhoneJid(j);
      expect(normalizePhoneJid(n)).toBe(n);
      expect(isPhoneJid(n)).toBe(isPhoneJid(j));
      expect(isLid(n)).toBe(isLid(j));
      expect(isGroup(n)).toBe(isGroup(j));
    }), { numRuns: 300 });
  });

  it("brazilAlternate pairs the two forms of a Brazilian mobile both ways, and leaves everything else alone", () => {
    fc.assert(fc.property(fc.oneof(fc.string(), fc.stringMatching(/^55[1-9][1-9]9?[2-9]\d{7}$/), fc.stringMatching(/^\d{8,15}$/)), (digits) => {
      const alt = brazilAlternate(digits);
      if (alt === null) return;
      expect(alt).toMatch(/^55\d{10,11}$/);
      expect(Math.abs(alt.length - digits.length)).toBe(1);
      expect(brazilAlternate(alt)).toBe(digits);
    }), { numRuns: 300 });
  });
});

describe('classifyChatwootWebhook', () => {
  it('never throws on arbitrary values or mutated real webhooks; invalid ones say why', () => {
    fc.assert(fc.property(fc.oneof(fc.jsonValue(), mutatedPayload(realChatwootWebhooks())), (body) => {
      const w = classifyChatwootWebhook(body);
      expect(['ignored', 'invalid', 'reply', 'deleted', 'updated']).toContain(w.kind);
      if (w.kind === 'invalid' || w.kind === 'ignored') expect(w.reason.length).toBeGreaterThan(0);
      if (w.kind === 'reply' || w.kind === 'deleted' || w.kind === 'updated') {
        expect(Number.isSafeInteger(w.facts.cwMessageId)).toBe(true);
        for (const a of w.facts.attachments) expect(typeof a.url).toBe('string');
      }
    }), { numRuns: 400 });
  });
});

describe('markdownToWhatsApp', () => {
  it('is total on any text (unicode, NULs, unbalanced markup) and answers in well under a second for 20k characters', () => {
    const markup = fc.constantFrom('*', '**', '_', '__', '~~', '`', '```', '[', '](', ')', '\\', '\n', '  \n', '# ', '> ', '\u0000', '\u00000\u0000', '\u0000B', '\u0001', 'http://x.y');
    const text = fc.array(fc.oneof(fc.string({ unit: 'grapheme' }), markup), { maxLength: 60 }).map((parts) => parts.join(''));
    fc.assert(fc.property(text, (t) => {
      const out = markdownToWhatsApp(t);
      expect(typeof out).toBe('string');
      expect(out.includes('\u0000')).toBe(false);
      expect(out.includes('\u0001')).toBe(false);
    }), { numRuns: 300 });
    for (const unit of ['**a', '*a ', '~~a', '__a', '[a](', '`a']) {
      const started = performance.now();
      markdownToWhatsApp(unit.repeat(Math.ceil(20_000 / unit.length)));
      expect(performance.now() - started).toBeLessThan(1000);
    }
  });
});

describe('loadConfig', () => {
  const SECRET = 'SECRET-marker-7e1f0a9b';
  const names = ['EVOSYNC_WEBHOOK_TOKEN', 'EVOSYNC_API_TOKEN', 'EVOSYNC_METRICS_TOKEN', 'CHATWOOT_API_TOKEN', 'EVOLUTION_API_KEY', 'EVOSYNC_DASHBOARD_PASSWORD', 'CHATWOOT_WEBHOOK_SECRET', 'EVOSYNC_CHATWOOT_WEBHOOK_TOKEN', 'EVOSYNC_PORT', 'EVOSYNC_MAX_BODY_BYTES', 'CHATWOOT_URL', 'EVOLUTION_URL', 'EVOSYNC_MEDIA_ALLOWED_HOSTS', 'EVOSYNC_DATABASE_URL', 'EVOSYNC_AMQP_URL', 'EVOSYNC_REDIS_URL', 'EVOSYNC_LOG_LEVEL', 'EVOSYNC_TYPO'];
  const value = fc.oneof(fc.string(), fc.constantFrom('', '0', '-1', '1e309', 'http://', 'not a url', 'a'.repeat(5000)), fc.string().map((s) => `${s}${SECRET}${s}`));

  it('either returns a config or throws one ConfigError, whose text never repeats a value it was given', () => {
    fc.assert(fc.property(fc.dictionary(fc.constantFrom(...names), value), (env) => {
      try {
        loadConfig(env);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        expect((error as ConfigError).message.includes(SECRET)).toBe(false);
      }
    }), { numRuns: 200 });
  });

  it('a config file that is not JSON is reported without quoting the tokens it holds', () => {
    const file = `{"instances":[{"instance":"a","chatwoot":{"apiToken":"${SECRET}" "url":"x"}}]}`;
    for (const text of [file, SECRET, `["${SECRET}", tru]`]) {
      expect(() => loadConfig({ EVOSYNC_CONFIG_FILE: '/cfg.json', EVOSYNC_WEBHOOK_TOKEN: 'w'.repeat(16) }, { readFile: () => text })).toThrow(ConfigError);
      try {
        loadConfig({ EVOSYNC_CONFIG_FILE: '/cfg.json', EVOSYNC_WEBHOOK_TOKEN: 'w'.repeat(16) }, { readFile: () => text });
      } catch (error) {
        expect((error as Error).message).toContain('not valid JSON');
        expect((error as Error).message.includes(SECRET.slice(0, 12))).toBe(false);
      }
    }
  });
});

describe('json guards', () => {
  const depthOf = (v: unknown): number => (v && typeof v === 'object' ? 1 + Math.max(0, ...Object.values(v as object).map(depthOf)) : 0);

  it('jsonDeeperThan agrees with the depth of the parsed value, strings with brackets and escapes included', () => {
    const tricky = fc.constantFrom('[', ']', '{', '}', '"', '\\', '\\"[', 'a\\\\"');
    const leaf = fc.oneof(fc.string(), tricky, fc.integer(), fc.boolean(), fc.constant(null));
    const deep = fc.letrec((tie) => ({ node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, fc.array(tie('node'), { maxLength: 3 }), fc.dictionary(fc.oneof(fc.string(), tricky), tie('node'), { maxKeys: 3 })) })).node;
    fc.assert(fc.property(deep, fc.integer({ min: 0, max: 8 }), (v, max) => {
      expect(jsonDeeperThan(JSON.stringify(v), max)).toBe(depthOf(v) > max);
    }), { numRuns: 300 });
    expect(jsonDeeperThan(`${'['.repeat(65)}${']'.repeat(65)}`, 64)).toBe(true);
    expect(jsonDeeperThan(`${'['.repeat(64)}${']'.repeat(64)}`, 64)).toBe(false);
  });

  it("jsonErrorReason never repeats the text it failed on", () => {
    const marker = 'QQSECRETQQ';
    fc.assert(fc.property(fc.string(), fc.string(), (a, b) => {
      const text = `${a}"${marker}"${b}`;
      try {
        JSON.parse(text);
      } catch (error) {
        expect(jsonErrorReason(error).includes(marker)).toBe(false);
      }
      try {
        JSON.parse(`${marker}${a}`);
      } catch (error) {
        expect(jsonErrorReason(error).includes(marker)).toBe(false);
      }
    }), RUNS);
  });
});
