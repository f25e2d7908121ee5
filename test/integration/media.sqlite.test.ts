import { describe, expect, it } from 'vitest';
import { createChatwootSim, type ChatwootSim } from '../../sim/chatwoot/index.js';
import { createEvolutionSim, type EvolutionSim, type StoredMessage } from '../../sim/evolution/index.js';
import { createEvosync, type Evosync } from '../../src/app.js';
import type { ChatMessage } from '../../src/domain/message.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/lib/logger.js';
import { CONTACT, GROUP_JID, storedFixture, type FixtureKind, type RawOptions } from '../fixtures/evolution-messages.js';
import { tempSqliteUrl } from '../helpers/services.js';
import { cleanups } from '../helpers/lifecycle.js';

/**
 * WhatsApp → Chatwoot for every payload kind, end to end: the Evolution simulator stores and
 * publishes real messageRaw shapes over its webhook, evosync delivers, and the assertions read
 * what the Chatwoot simulator holds (including the uploaded bytes, through data_url).
 */
const TOKEN = 'media-webhook-token-0123456789';
const INSTANCE = 'md';
const TS = 1_760_100_000;

const cleanup = cleanups();

interface Rig {
  app: Evosync;
  evo: EvolutionSim;
  cw: ChatwootSim;
}

async function rig(opts: { base64?: boolean; env?: Record<string, string> } = {}): Promise<Rig> {
  const cw = await createChatwootSim({ seed: 7 });
  cleanup.push(() => cw.close());
  const evo = await createEvolutionSim({ seed: 7, instances: [INSTANCE], contactEvents: false });
  cleanup.push(() => evo.close());
  const app = await createEvosync(
    loadConfig({
      EVOSYNC_DATABASE_URL: tempSqliteUrl(), EVOSYNC_HOST: '127.0.0.1', EVOSYNC_PORT: '0',
      CHATWOOT_URL: cw.url, CHATWOOT_API_TOKEN: cw.token, CHATWOOT_ACCOUNT_ID: String(cw.accountId), CHATWOOT_INBOX_ID: String(cw.inboxId),
      EVOLUTION_URL: evo.url, EVOLUTION_API_KEY: evo.apiKey, EVOSYNC_WEBHOOK_TOKEN: TOKEN,
      EVOSYNC_RECONCILE_INTERVAL_MS: '0', EVOSYNC_ORDER_WINDOW_MS: '0', EVOSYNC_RETRY_BASE_MS: '20', EVOSYNC_RETRY_MAX_MS: '100',
      EVOSYNC_LOG_LEVEL: 'silent', ...opts.env,
    }),
    { logger: createLogger('silent') },
  );
  cleanup.push(() => app.stop());
  const address = await app.listen();
  evo.setWebhook(INSTANCE, { url: `${address}/webhooks/evolution`, headers: { authorization: `Bearer ${TOKEN}` }, base64: opts.base64 ?? false });
  return { app, evo, cw };
}

let seq = 0;
const fixture = (kind: FixtureKind, o: Partial<RawOptions> = {}): StoredMessage => {
  seq += 1;
  return storedFixture(kind, INSTANCE, { id: `3EB0${kind.toUpperCase()}${seq}`, ts: TS + seq, ...o });
};

async function settled(app: Evosync, atLeast: number, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const c = await app.ledger.counts();
    if (c.pending === 0 && c.delivered + c.skipped + c.dead >= atLeast) return;
    if (Date.now() > deadline) throw new Error(`not settled: ${JSON.stringify(c)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const bySource = (cw: ChatwootSim, waId: string) => {
  const found = cw.snapshot().messages.filter((m) => m.source_id === `WAID:${waId}`);
  expect(found).toHaveLength(1);
  return found[0]!;
};

/** Downloads an attachment the way an agent's browser does: the data_url, following the redirect. */
async function attachmentBytes(cw: ChatwootSim, conversationId: number, messageId: number): Promise<Buffer> {
  const r = await fetch(`${cw.url}/api/v1/accounts/${cw.accountId}/conversations/${conversationId}/messages`, { headers: { api_access_token: cw.token } });
  const list = (await r.json()) as { payload: { id: number; attachments?: { data_url: string }[] }[] };
  const url = list.payload.find((m) => m.id === messageId)?.attachments?.[0]?.data_url;
  if (!url) throw new Error('no attachment');
  return Buffer.from(await (await fetch(url)).arrayBuffer());
}

describe('media WhatsApp → Chatwoot (fetched through getBase64FromMediaMessage)', () => {
  it('uploads image, video, audio, voice note, document, sticker and round video with the right type, name and caption', async () => {
    const { app, evo, cw } = await rig();
    const expected: { kind: FixtureKind; fileType: string; contentType: string; fileName: RegExp; content: string | null }[] = [
      { kind: 'image', fileType: 'image', contentType: 'image/jpeg', fileName: /\.jpg$/, content: 'the broken part' },
      { kind: 'video', fileType: 'video', contentType: 'video/mp4', fileName: /\.mp4$/, content: 'it makes this noise' },
      { kind: 'audio', fileType: 'audio', contentType: 'audio/mpeg', fileName: /\.mp3$/, content: null },
      { kind: 'ptt', fileType: 'audio', contentType: 'audio/ogg; codecs=opus', fileName: /\.ogg$/, content: null },
      { kind: 'document', fileType: 'file', contentType: 'application/pdf', fileName: /^Invoice 0042\.pdf$/, content: null },
      { kind: 'documentWithCaption', fileType: 'file', contentType: 'application/pdf', fileName: /^contract\.pdf$/, content: 'signed copy' },
      { kind: 'sticker', fileType: 'image', contentType: 'image/webp', fileName: /\.webp$/, content: null },
      { kind: 'ptv', fileType: 'video', contentType: 'video/mp4', fileName: /\.mp4$/, content: null },
      { kind: 'viewOnceImage', fileType: 'image', contentType: 'image/jpeg', fileName: /\.jpg$/, content: null },
    ];
    const rows = expected.map((e) => fixture(e.kind, { lid: true }));
    const bytes = rows.map((r, i) => Buffer.from(`${expected[i]!.kind} bytes of ${r.key.id}`));
    rows.forEach((r, i) => evo.media.put(r.key.id, bytes[i]!));
    await evo.publish(rows);
    await settled(app, rows.length);

    const conversations = new Set<number>();
    for (const [i, e] of expected.entries()) {
      const m = bySource(cw, rows[i]!.key.id);
      conversations.add(m.conversation_id);
      expect(m.message_type).toBe('incoming');
      expect(m.content).toBe(e.content);
      expect(m.attachments).toHaveLength(1);
      expect(m.attachments[0]).toMatchObject({ file_type: e.fileType, content_type: e.contentType, file_size: bytes[i]!.length });
      expect(m.attachments[0]!.file_name).toMatch(e.fileName);
    }
    // One contact, one conversation, whatever the kind (LID chat resolved to the phone).
    expect(conversations.size).toBe(1);
    const image = bySource(cw, rows[0]!.key.id);
    expect((await attachmentBytes(cw, image.conversation_id, image.id)).equals(bytes[0]!)).toBe(true);
    expect(cw.snapshot().contacts.map((c) => c.phone_number)).toContain(`+${CONTACT.pn.split('@')[0]}`);
  });

  it('delivers the caption with a placeholder that says why when the media cannot be had: not stored, expired, too big', async () => {
    const { app, evo, cw } = await rig({ env: { EVOSYNC_MEDIA_MAX_BYTES: '4096' } });
    const expired = fixture('image');
    const tooBig = fixture('document', { fileLength: 50_000 });
    const stored = [expired, tooBig];
    evo.media.expire(expired.key.id);
    await evo.publish(stored);
    // Published but never stored: Evolution answers "Message not found".
    const unstored = fixture('video');
    await evo.emit(INSTANCE, 'messages.upsert', { key: unstored.key, pushName: unstored.pushName, status: 'DELIVERY_ACK', message: unstored.message, contextInfo: null, messageType: unstored.messageType, messageTimestamp: unstored.messageTimestamp, instanceId: evo.instanceId(INSTANCE), source: 'android' });
    await settled(app, 3);

    const e = bySource(cw, expired.key.id);
    expect(e.attachments).toEqual([]);
    expect(e.content).toMatch(/^\[Image\] ⚠️ media not available: Evolution could not download it from WhatsApp \(Error: Failed to fetch stream from https:\/\/mmg\.whatsapp\.net.*\); gave up after 3 tries\nthe broken part$/);
    expect((await app.ledger.getMessage(INSTANCE, expired.key.id))?.state).toBe('delivered');
    expect(bySource(cw, tooBig.key.id).content).toBe("[Document: Invoice 0042.pdf] ⚠️ media not available: the file (49 KB) is larger than evosync's media limit (4 KB, EVOSYNC_MEDIA_MAX_BYTES)");
    expect(bySource(cw, unstored.key.id).content).toMatch(/^\[Video\] ⚠️ media not available: Evolution has not stored this message/);
  });

  it('retries a transient Evolution failure without pausing Chatwoot delivery for other chats', async () => {
    const { app, evo, cw } = await rig();
    const image = fixture('image');
    const otherChatText = storedFixture('text', INSTANCE, { id: 'OTHER-CHAT-1', ts: TS + 500, groupSender: 1 });
    evo.media.failNext(image.key.id, 2, 502);
    await evo.publish([image, otherChatText]);
    await settled(app, 2);
    const m = bySource(cw, image.key.id);
    expect(m.attachments).toHaveLength(1);
    expect(m.content).toBe('the broken part');
    // Two failed fetches and the delivery; the other chat was never held up (one attempt).
    expect((await app.ledger.getMessage(INSTANCE, image.key.id))?.attempts).toBe(3);
    expect(bySource(cw, 'OTHER-CHAT-1').content).toContain('hello, is anyone there?');
    expect((await app.ledger.getMessage(INSTANCE, 'OTHER-CHAT-1'))?.attempts).toBe(1);
  });

  it('resolves a multipart create that timed out after Chatwoot committed it by looking up the source_id: one message, one file', async () => {
    const { app, evo, cw } = await rig({ env: { EVOSYNC_HTTP_TIMEOUT_MS: '400' } });
    const first = fixture('text');
    await evo.publish([first]);
    await settled(app, 1);
    cw.setFaults({ timeoutAfterCommitRate: 1, hangMs: 1500 });
    cw.resetStats();
    const image = fixture('image');
    await evo.publish([image]);
    await settled(app, 2);
    cw.setFaults({ timeoutAfterCommitRate: 0 });
    const m = bySource(cw, image.key.id);
    expect(m.attachments).toHaveLength(1);
    // One multipart create (it hung after committing), then the look-up that found it.
    const routes = cw.stats().byRoute;
    expect(routes['POST /conversations/:conversation_id/messages']).toBe(1);
    expect(routes['GET /conversations/:conversation_id/messages']).toBeGreaterThanOrEqual(1);
    const row = await app.ledger.getMessage(INSTANCE, image.key.id);
    expect(row).toMatchObject({ state: 'delivered', cwMessageId: m.id });
  });
});

describe('media WhatsApp → Chatwoot (webhook base64 mode)', () => {
  it('keeps the inline copy in the ledger before acking and uploads it, even once WhatsApp has forgotten the file', async () => {
    const { app, evo, cw } = await rig({ base64: true, env: { EVOSYNC_ORDER_WINDOW_MS: '300' } });
    const doc = fixture('documentWithCaption');
    const bytes = Buffer.from('inline pdf bytes');
    evo.media.put(doc.key.id, bytes);
    await evo.publish([doc]);
    // Committed before the 2xx: the ledger row has the file, base64.
    const row = await app.ledger.getMessage(INSTANCE, doc.key.id);
    expect((row?.message as ChatMessage | undefined)?.content.media?.base64).toBe(bytes.toString('base64'));
    evo.media.expire(doc.key.id);
    await settled(app, 1);
    const m = bySource(cw, doc.key.id);
    expect(m).toMatchObject({ content: 'signed copy', attachments: [{ file_type: 'file', content_type: 'application/pdf', file_name: 'contract.pdf', file_size: bytes.length }] });
  });
});

describe('everything else WhatsApp → Chatwoot', () => {
  it('location, contacts, poll, reaction, list and button replies and unknown types arrive as readable text', async () => {
    const { app, evo, cw } = await rig();
    const kinds: [FixtureKind, string | RegExp][] = [
      ['location', /^📍 Location\nPaulista office/],
      ['contact', '👤 Dr. Ana Souza\n+5511912340000'],
      ['contactsArray', /👤 Ana[\s\S]*👤 Beto/],
      ['poll', '📊 Poll: Best day for the visit?\n• Monday\n• Friday'],
      ['listResponse', 'Plan B — 200 GB\nR$ 99/month'],
      ['buttonsResponse', 'Yes, confirm'],
      ['templateButtonReply', 'Track my order'],
      ['interactiveResponse', 'Talk to sales'],
      ['unknown', '[Unsupported WhatsApp message: keepInChatMessage]'],
    ];
    const rows = kinds.map(([k]) => fixture(k));
    await evo.publish(rows);
    await settled(app, rows.length);
    for (const [i, [, want]] of kinds.entries()) {
      const content = bySource(cw, rows[i]!.key.id).content ?? '';
      if (typeof want === 'string') expect(content).toBe(want);
      else expect(content).toMatch(want);
    }
  });

  it('a reply and a reaction point at the quoted message through in_reply_to and in_reply_to_external_id', async () => {
    const { app, evo, cw } = await rig();
    const original = fixture('text');
    await evo.publish([original]);
    await settled(app, 1);
    const reply = fixture('reply', { targetId: original.key.id });
    const reaction = fixture('reaction', { targetId: original.key.id });
    const dangling = fixture('reply', { targetId: 'NEVER-SEEN' });
    await evo.publish([reply, reaction, dangling]);
    await settled(app, 4);
    const target = bySource(cw, original.key.id);
    for (const m of [bySource(cw, reply.key.id), bySource(cw, reaction.key.id)]) {
      expect(m.content_attributes).toMatchObject({ in_reply_to: target.id, in_reply_to_external_id: `WAID:${original.key.id}` });
    }
    expect(bySource(cw, reaction.key.id).content).toBe('Reacted ❤️');
    // Chatwoot nulls both when the quoted message is not in the conversation; the text still arrives.
    expect(bySource(cw, dangling.key.id)).toMatchObject({ content: 'yes, this one', content_attributes: { in_reply_to: null, in_reply_to_external_id: null } });
  });

  it('a group is one conversation; each message names its sender and number, media included', async () => {
    const { app, evo, cw } = await rig();
    const a = fixture('text', { groupSender: 0 });
    const b = fixture('image', { groupSender: 1, convention: '2.3.6' });
    const c = fixture('sticker', { groupSender: 0 });
    await evo.publish([a, b, c]);
    await settled(app, 3);
    const ma = bySource(cw, a.key.id);
    const mb = bySource(cw, b.key.id);
    const mc = bySource(cw, c.key.id);
    expect(new Set([ma.conversation_id, mb.conversation_id, mc.conversation_id]).size).toBe(1);
    expect(ma.content).toBe('**Bruno · +5511987650002:**\nhello, is anyone there?');
    expect(mb.content).toBe('**Carla · +5521987650003:**\nthe broken part');
    expect(mb.attachments).toHaveLength(1);
    expect(mc).toMatchObject({ content: '**Bruno · +5511987650002:**', attachments: [{ file_type: 'image' }] });
    expect(cw.snapshot().contacts.find((x) => x.identifier === GROUP_JID)).toBeDefined();
  });
});
