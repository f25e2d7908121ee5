/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are explored as loose JSON */
/**
 * Send endpoints and agent actions over HTTP: sendText/sendMedia/sendWhatsAppAudio, send faults
 * (not on WhatsApp, 5xx before sending, ambiguous timeout after sending), delete, edit, read,
 * instance/config endpoints.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createEvolutionSim, type EvolutionSim } from '../../sim/evolution/index.js';
import { startReceiver, type Received, type Receiver } from '../../sim/evolution/receiver.js';

let sim: EvolutionSim;
let rx: Receiver;

beforeEach(async () => {
  rx = await startReceiver();
  sim = await createEvolutionSim({ instances: ['inst1'] });
  sim.setWebhook('inst1', { url: rx.url, events: [] });
});
afterEach(async () => {
  await sim.close();
  await rx.close();
});

type Evt = { event: string; data: Record<string, any> };
const evt = (r: Received): Evt => r.body as Evt;

async function call(method: string, path: string, body?: unknown, key = sim.apiKey): Promise<{ status: number; json: any }> {
  const res = await fetch(`${sim.url}${path}`, {
    method,
    headers: { apikey: key, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

describe('sendText', () => {
  it('returns 201 with the messageRaw, stores it and emits send.message (never messages.upsert)', async () => {
    const r = await call('POST', '/message/sendText/inst1', { number: '+55 (11) 98888-7777', text: 'olá' }, sim.instanceToken('inst1'));
    expect(r.status).toBe(201);
    const id = r.json.key.id as string;
    expect(id).toMatch(/^3EB0[0-9A-F]{18}$/);
    expect(r.json).toMatchObject({
      key: { remoteJid: '5511988887777@s.whatsapp.net', fromMe: true, id },
      pushName: 'Você',
      status: 'PENDING',
      message: { conversation: 'olá' },
      messageType: 'conversation',
      source: 'web',
      instanceId: sim.instanceId('inst1'),
    });
    const [sent] = await rx.waitFor((x) => evt(x).event === 'send.message');
    expect(evt(sent!).data).toEqual(r.json);
    await new Promise((res) => setTimeout(res, 100));
    expect(rx.received.filter((x) => evt(x).event === 'messages.upsert')).toHaveLength(0);
    expect(sim.sent('inst1').map((m) => m.key.id)).toEqual([id]);
    expect(sim.stored('inst1').map((m) => m.key.id)).toContain(id);
  });

  it('answers 400 exists:false for a number not on WhatsApp, sending nothing', async () => {
    sim.setSendFaults({ notOnWhatsappJids: ['5511900000000'] });
    const r = await call('POST', '/message/sendText/inst1', { number: '5511900000000', text: 'x' });
    expect(r.status).toBe(400);
    expect(r.json).toEqual({
      status: 400,
      error: 'Bad Request',
      response: { message: [{ jid: '5511900000000@s.whatsapp.net', exists: false, number: '5511900000000' }] },
    });
    expect(sim.sent()).toHaveLength(0);
  });

  it('validates the body like Evolution', async () => {
    expect((await call('POST', '/message/sendText/inst1', { number: '5511988887777' })).json.response.message).toEqual([
      'instance requires property "text"',
    ]);
    expect((await call('POST', '/message/sendText/inst1', { number: '5511988887777', text: '  ' })).json.response.message).toEqual([
      'Text is required',
    ]);
  });

  it('a 5xx fault fails before sending: nothing stored, nothing emitted', async () => {
    sim.setSendFaults({ errorRate: 1 });
    const r = await call('POST', '/message/sendText/inst1', { number: '5511988887777', text: 'x' });
    expect(r.status).toBe(500);
    expect(sim.sent()).toHaveLength(0);
    await new Promise((res) => setTimeout(res, 100));
    expect(rx.received).toHaveLength(0);
  });

  it('an ambiguous fault sends, stores and emits, but the HTTP request fails', async () => {
    sim.setSendFaults({ timeoutAfterSendRate: 1, hangMs: 50 });
    await expect(call('POST', '/message/sendText/inst1', { number: '5511988887777', text: 'maybe' })).rejects.toThrow();
    expect(sim.sent()).toHaveLength(1);
    const [e] = await rx.waitFor((x) => evt(x).event === 'send.message');
    expect(evt(e!).data['key'].id).toBe(sim.sent()[0]?.key.id);
  });

  it('quotes a stored message by key id', async () => {
    const [m] = sim.generate({ chats: 1, messages: 1 });
    const r = await call('POST', '/message/sendText/inst1', { number: m!.key.remoteJid, text: 'reply', quoted: { key: { id: m!.key.id } } });
    expect(r.json.contextInfo).toMatchObject({ stanzaId: m!.key.id, participant: m!.key.remoteJid, quotedMessage: { conversation: m!.message['conversation'] } });
  });
});

describe('media sends', () => {
  it('sendMedia multipart: getBase64FromMediaMessage returns the uploaded bytes', async () => {
    const bytes = Buffer.from('%PDF-1.4 fake pdf bytes');
    const form = new FormData();
    form.set('number', '5511988887777');
    form.set('mediatype', 'document');
    form.set('fileName', 'nota.pdf');
    form.set('caption', 'segue');
    form.set('file', new Blob([bytes]), 'nota.pdf');
    const res = await fetch(`${sim.url}/message/sendMedia/inst1`, { method: 'POST', headers: { apikey: sim.apiKey }, body: form });
    expect(res.status).toBe(201);
    const raw = (await res.json()) as any;
    expect(raw.messageType).toBe('documentMessage');
    expect(raw.message.documentMessage).toMatchObject({ fileName: 'nota.pdf', caption: 'segue', mimetype: 'application/pdf' });
    expect(raw.message.documentMessage.fileLength).toEqual({ low: bytes.length, high: 0, unsigned: true });
    const media = await call('POST', '/chat/getBase64FromMediaMessage/inst1', { message: { key: { id: raw.key.id } } });
    expect(Buffer.from(media.json.base64, 'base64')).toEqual(bytes);
    expect(media.json.fileName).toBe('nota.pdf');
  });

  it('sendMedia JSON: base64 documents need a file name; localhost URLs are not URLs', async () => {
    const b64 = Buffer.from('hello').toString('base64');
    const noName = await call('POST', '/message/sendMedia/inst1', { number: '5511988887777', mediatype: 'document', media: b64 });
    expect(noName.json.response.message).toEqual(['For base64 the file name must be informed.']);
    const local = await call('POST', '/message/sendMedia/inst1', { number: '5511988887777', mediatype: 'image', media: 'http://localhost/x.png' });
    expect(local.json.response.message).toEqual(['Owned media must be a url or base64']);
    const img = await call('POST', '/message/sendMedia/inst1', { number: '5511988887777', mediatype: 'image', media: b64, caption: 'c' });
    expect(img.status).toBe(201);
    expect(img.json.message.imageMessage).toMatchObject({ mimetype: 'image/jpeg', caption: 'c' });
  });

  it('sendMedia by URL: the server downloads it; a document name comes from the path (mimetype "false" without extension)', async () => {
    const r = await call('POST', '/message/sendMedia/inst1', { number: '5511988887777', mediatype: 'document', media: `${rx.url}/files/report.pdf` });
    expect(r.status).toBe(201);
    expect(r.json.message.documentMessage).toMatchObject({ fileName: 'report', mimetype: 'false' });
    expect(rx.received.some((x) => x.method === 'GET' && x.path === '/files/report.pdf')).toBe(true);
    const media = await call('POST', '/chat/getBase64FromMediaMessage/inst1', { message: { key: { id: r.json.key.id } } });
    expect(Buffer.from(media.json.base64, 'base64').toString()).toBe('{}');
    const dead = await call('POST', '/message/sendMedia/inst1', { number: '5511988887777', mediatype: 'video', media: 'http://127.0.0.1:1/x.mp4' });
    expect(dead.status).toBe(500);
  });

  it('sendWhatsAppAudio sends a voice note (audioMessage, ptt)', async () => {
    const r = await call('POST', '/message/sendWhatsAppAudio/inst1', { number: '5511988887777', audio: Buffer.from('ogg').toString('base64') });
    expect(r.status).toBe(201);
    expect(r.json.messageType).toBe('audioMessage');
    expect(r.json.message.audioMessage).toMatchObject({ ptt: true, mimetype: 'audio/ogg; codecs=opus' });
  });
});

describe('agent actions', () => {
  it('deleteMessageForEveryone: logical delete and MESSAGES_DELETE with the row shape', async () => {
    const [m] = sim.generate({ chats: 1, messages: 1 });
    const r = await call('DELETE', '/chat/deleteMessageForEveryone/inst1', { id: m!.key.id, remoteJid: m!.key.remoteJid, fromMe: false });
    expect(r.status).toBe(201);
    expect(r.json.message.protocolMessage).toEqual({ key: { remoteJid: m!.key.remoteJid, fromMe: false, id: m!.key.id }, type: 'REVOKE' });
    const [d] = await rx.waitFor((x) => evt(x).event === 'messages.delete');
    const data = evt(d!).data;
    expect(Object.keys(data)).toEqual(['id', 'instanceId', 'key', 'messageType', 'status', 'source', 'messageTimestamp', 'pushName', 'participant', 'message']);
    expect(data).toMatchObject({ id: m!.id, status: 'DELETED', key: { id: m!.key.id, deleted: true } });
    expect(sim.stored('inst1')[0]?.status).toBe('DELETED');
  });

  it('updateMessage: SEND_MESSAGE_UPDATE with the protocolMessage and the row rewritten', async () => {
    const sent = await call('POST', '/message/sendText/inst1', { number: '5511988887777', text: 'v1' });
    const key = sent.json.key;
    const r = await call('POST', '/chat/updateMessage/inst1', { number: '5511988887777', key, text: 'v2' });
    expect(r.status).toBe(200);
    const [u] = await rx.waitFor((x) => evt(x).event === 'send.message.update');
    expect(evt(u!).data).toMatchObject({ key: { id: key.id }, type: 'MESSAGE_EDIT', editedMessage: { extendedTextMessage: { text: 'v2' } } });
    expect(typeof evt(u!).data['timestampMs']).toBe('string');
    const row = sim.stored('inst1').find((m) => m.key.id === key.id);
    expect(row).toMatchObject({ status: 'EDITED', message: { conversation: 'v2' } });
  });

  it('remote edit and revoke from the phone emit messages.edited / messages.delete', async () => {
    const [m] = sim.generate({ chats: 1, messages: 1 });
    await sim.remoteEdit('inst1', m!.key.id, 'corrigido');
    await sim.remoteRevoke('inst1', m!.key.id);
    const events = rx.received.map(evt);
    expect(events.map((e) => `${e.event}:${e.data['type'] ?? ''}`)).toEqual(['messages.edited:MESSAGE_EDIT', 'messages.edited:REVOKE', 'messages.delete:']);
    expect(events[2]?.data).toMatchObject({ remoteJid: m!.key.remoteJid, id: m!.key.id, fromMe: false });
    expect(sim.stored('inst1')[0]).toMatchObject({ status: 'EDITED', message: { conversation: 'corrigido' } });
  });

  it('markMessageAsRead answers 201 {message, read}', async () => {
    const r = await call('POST', '/chat/markMessageAsRead/inst1', { readMessages: [{ id: 'X', fromMe: false, remoteJid: '5511988887777@s.whatsapp.net' }] });
    expect(r).toEqual({ status: 201, json: { message: 'Read messages', read: 'success' } });
  });
});

describe('instance and config endpoints', () => {
  it('connectionState follows setConnection; sends fail while closed', async () => {
    expect((await call('GET', '/instance/connectionState/inst1')).json).toEqual({ instance: { instanceName: 'inst1', state: 'open' } });
    await sim.setConnection('inst1', 'close');
    expect((await call('GET', '/instance/connectionState/inst1')).json.instance.state).toBe('close');
    const send = await call('POST', '/message/sendText/inst1', { number: '5511988887777', text: 'x' });
    expect(send.status).toBe(500);
  });

  it('fetchInstances lists instances for the global key, only its own for an instance token', async () => {
    const all = await call('GET', '/instance/fetchInstances');
    expect(all.json.map((i: any) => i.name)).toEqual(['inst1']);
    expect(all.json[0]).toMatchObject({ connectionStatus: 'open', integration: 'WHATSAPP-BAILEYS', token: sim.instanceToken('inst1') });
    expect((await call('GET', '/instance/fetchInstances', undefined, 'nope')).status).toBe(401);
  });

  it('webhook set/find round-trips the stored row; chatwoot find reports the built-in integration disabled', async () => {
    const set = await call('POST', '/webhook/set/inst1', { webhook: { enabled: true, url: 'http://example.com/h', byEvents: true, events: ['MESSAGES_UPSERT'] } });
    expect(set.status).toBe(201);
    const found = await call('GET', '/webhook/find/inst1');
    expect(found.json).toMatchObject({ url: 'http://example.com/h', enabled: true, webhookByEvents: true, webhookBase64: false, events: ['MESSAGES_UPSERT'] });
    const bad = await call('POST', '/webhook/set/inst1', { webhook: { enabled: true, url: 'http://x', events: ['NOPE'] } });
    expect(bad.status).toBe(400);
    const cw = await call('GET', '/chatwoot/find/inst1');
    expect(cw.json).toEqual({ enabled: false, url: '', accountId: '', token: '', signMsg: false, nameInbox: '', webhook_url: '' });
    const unknown = await call('POST', '/nope/inst1', {});
    expect(unknown).toEqual({ status: 404, json: { status: 404, error: 'Not Found', response: { message: ['Cannot POST /nope/inst1'] } } });
  });
});
