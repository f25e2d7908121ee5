import { describe, expect, it } from 'vitest';
import { fetchAttachment, forbiddenAddress, hostAllowed, refusedTarget } from '../../src/chatwoot/attachment-fetch.js';
import type { AgentReply } from '../../src/domain/agent-reply.js';
import { shapeOf } from '../../src/evolution/send.js';
import { redactSecrets } from '../../src/ingest/intake.js';
import { redactUrl } from '../../src/lib/logger.js';

describe('addresses an attachment download may never reach', () => {
  it('link-local (cloud metadata), "this network", multicast and reserved, in IPv4, IPv6 and mapped forms', () => {
    for (const a of ['169.254.169.254', '169.254.0.1', '0.0.0.0', '0.1.2.3', '100.100.100.200', '224.0.0.1', '255.255.255.255', '240.0.0.1', 'fe80::1', 'FE80::abcd', 'febf::1', '::', 'ff02::1', 'fd00:ec2::254', '::ffff:169.254.169.254']) {
      expect(forbiddenAddress(a), a).toBe(true);
    }
    // Chatwoot and its storage often sit on loopback or a private network: the host list decides those.
    for (const a of ['127.0.0.1', '10.0.0.5', '192.168.1.10', '172.16.0.1', '100.64.0.1', '8.8.8.8', '::1', 'fd00::1', '2001:db8::1', '::ffff:10.0.0.1', 'not-an-ip']) {
      expect(forbiddenAddress(a), a).toBe(false);
    }
  });

  it('a URL is fetched only over http(s), without credentials, from an allowed host that is not a metadata address', () => {
    const allowed = ['chat.example.com', '*.s3.amazonaws.com', '169.254.169.254'];
    expect(refusedTarget(new URL('https://chat.example.com/rails/active_storage/blobs/redirect/x/a.pdf'), allowed)).toBeNull();
    expect(refusedTarget(new URL('https://bucket.s3.amazonaws.com/key?X-Amz-Signature=1'), allowed)).toBeNull();
    expect(refusedTarget(new URL('https://s3.amazonaws.com/key'), allowed)).toMatch(/neither CHATWOOT_URL's host nor in EVOSYNC_MEDIA_ALLOWED_HOSTS/);
    expect(refusedTarget(new URL('https://chat.example.com.evil.io/x'), allowed)).toMatch(/not fetched/);
    expect(refusedTarget(new URL('https://evil.io/x'), allowed)).toMatch(/not fetched/);
    expect(refusedTarget(new URL('file:///etc/passwd'), allowed)).toMatch(/only http and https/);
    expect(refusedTarget(new URL('https://u:p@chat.example.com/x'), allowed)).toMatch(/credentials/);
    // Even listed, a metadata address is never fetched.
    expect(refusedTarget(new URL('http://169.254.169.254/latest/meta-data/'), allowed)).toMatch(/link-local or metadata/);
    expect(hostAllowed('CHAT.example.com.', ['chat.example.com'])).toBe(true);
    expect(hostAllowed('[::1]', ['[::1]'])).toBe(true);
    expect(hostAllowed('amazonaws.com', ['*.amazonaws.com'])).toBe(false);
  });

  it('refuses a metadata URL before opening any connection, even when it is CHATWOOT_URL', async () => {
    const started = Date.now();
    const r = await fetchAttachment('http://169.254.169.254/latest/meta-data/iam/security-credentials/', { chatwootUrl: 'http://169.254.169.254', allowedHosts: [], maxBytes: 1024, timeoutMs: 10_000 });
    expect(r).toMatchObject({ ok: false, failure: { kind: 'rejected' } });
    if (!r.ok) expect(r.failure.message).toMatch(/link-local or metadata/);
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

describe("WhatsApp's media limits on agent replies", () => {
  const reply = (fileType: string, contentType: string): AgentReply => ({
    instance: 'i', waId: 'cw:1', chat: '5511999999999@s.whatsapp.net', fromMe: true, timestamp: 1, event: 'chatwoot.message_created',
    cwMessageId: 1, cwConversationId: 2, part: 0, text: 'caption', senderName: null, inReplyTo: null, inReplyToWaId: null, createdAtMs: 0,
    attachment: { url: 'https://chat.example.com/x', fileType, contentType, fileName: 'x' },
  } as unknown as AgentReply);
  const MB = 1024 * 1024;

  it('a file over its kind\'s limit (image 5 MB, video and audio 16 MB) goes as a document, which WhatsApp takes up to 100 MB', () => {
    expect(shapeOf(reply('image', 'image/jpeg'), false, 'image/jpeg', 5 * MB).media).toBe('image');
    expect(shapeOf(reply('image', 'image/jpeg'), false, 'image/jpeg', 5 * MB + 1).media).toBe('document');
    expect(shapeOf(reply('video', 'video/mp4'), false, 'video/mp4', 16 * MB).media).toBe('video');
    expect(shapeOf(reply('video', 'video/mp4'), false, 'video/mp4', 17 * MB).media).toBe('document');
    expect(shapeOf(reply('audio', 'audio/ogg'), false, 'audio/ogg', 16 * MB).media).toBe('audio');
    expect(shapeOf(reply('audio', 'audio/ogg'), false, 'audio/ogg', 17 * MB)).toEqual({ media: 'document', text: 'caption' });
    // Before the file is fetched (a look-up of a send whose file is gone), the declared kind stands.
    expect(shapeOf(reply('image', 'image/jpeg'), false, 'image/jpeg').media).toBe('image');
  });
});

describe('credentials blanked before anything is stored or logged', () => {
  it('refused bodies lose apikey, token, secret and password values, escaped quotes included', () => {
    const body = '{"apikey":"K1","data":{"token":"T\\"2","api_access_token":"A3","password":"P4","secret":"S5","apiKey":"K6"}}';
    const out = redactSecrets(body);
    for (const v of ['K1', 'T\\"2', 'A3', 'P4', 'S5', 'K6']) expect(out.includes(v), v).toBe(false);
    expect(JSON.parse(out)).toMatchObject({ apikey: '[redacted]', data: { token: '[redacted]' } });
  });

  it('URL tokens are blanked in logged URLs', () => {
    expect(redactUrl('/webhooks/evolution/t/abcdef/messages-upsert?token=x&apikey=y')).toBe('/webhooks/evolution/t/[redacted]/messages-upsert?token=[redacted]&apikey=[redacted]');
  });
});
