import { describe, expect, it } from 'vitest';
import { extractContent } from '../../src/evolution/content.js';
import { CONTACT, messageRaw, type FixtureKind } from '../fixtures/evolution-messages.js';

const TS = 1_760_000_000;
const content = (kind: FixtureKind, over: Partial<Parameters<typeof messageRaw>[1]> = {}) => {
  const raw = messageRaw(kind, { id: `ID-${kind}`, ts: TS, ...over });
  return extractContent(raw.message, raw.messageType, raw.contextInfo ?? null);
};

describe('extractContent: media of every kind, from real messageRaw shapes', () => {
  it('image, video, audio, voice note, sticker and round video keep kind, mimetype, size and caption', () => {
    expect(content('image')).toMatchObject({ type: 'imageMessage', text: 'the broken part', media: { kind: 'image', mimetype: 'image/jpeg', fileName: null, sizeBytes: 2048 } });
    expect(content('video')).toMatchObject({ text: 'it makes this noise', media: { kind: 'video', mimetype: 'video/mp4' } });
    expect(content('audio').media).toMatchObject({ kind: 'audio', mimetype: 'audio/mpeg' });
    expect(content('ptt').media).toMatchObject({ kind: 'voice', mimetype: 'audio/ogg; codecs=opus' });
    expect(content('sticker')).toMatchObject({ text: '', media: { kind: 'sticker', mimetype: 'image/webp' } });
    expect(content('ptv').media).toMatchObject({ kind: 'video' });
  });

  it('documents keep their file name, with the caption both when Evolution unwrapped documentWithCaption and when it was never wrapped', () => {
    expect(content('document')).toMatchObject({ type: 'documentMessage', text: '', media: { kind: 'document', fileName: 'Invoice 0042.pdf', mimetype: 'application/pdf' } });
    expect(content('documentWithCaption')).toMatchObject({ type: 'documentMessage', text: 'signed copy', media: { fileName: 'contract.pdf' } });
    expect(content('documentUnwrapped')).toMatchObject({ text: 'my notes', media: { fileName: 'notes.txt', mimetype: 'text/plain' } });
  });

  it('a documentWithCaptionMessage an older Evolution did not unwrap is still a document', () => {
    const message = { documentWithCaptionMessage: { message: { documentMessage: { fileName: 'a.pdf', mimetype: 'application/pdf', caption: 'x', fileLength: '77' } } } };
    expect(extractContent(message, 'documentWithCaptionMessage', null)).toMatchObject({ text: 'x', media: { kind: 'document', fileName: 'a.pdf', sizeBytes: 77 } });
  });

  it('ephemeral and view-once wrappers are unwrapped, and the inline file on the outer message is kept', () => {
    const raw = messageRaw('ephemeralImage', { id: 'E1', ts: TS });
    const inline = Buffer.from('fake jpeg bytes').toString('base64');
    const c = extractContent({ ...raw.message, base64: inline }, raw.messageType, raw.contextInfo ?? null);
    expect(c).toMatchObject({ text: 'disappearing photo', media: { kind: 'image', base64: inline } });
    expect(content('viewOnceImage').media?.kind).toBe('image');
  });

  it('keeps the inline base64 only for media, and drops one larger than any WhatsApp file with the reason', () => {
    const raw = messageRaw('image', { id: 'B1', ts: TS });
    const kept = extractContent({ ...raw.message, base64: 'AAAA' }, raw.messageType, null);
    expect(kept.media?.base64).toBe('AAAA');
    const huge = 'A'.repeat(Math.ceil((101 * 1024 * 1024 * 4) / 3));
    const dropped = extractContent({ ...raw.message, base64: huge }, raw.messageType, null);
    expect(dropped.media?.base64).toBeUndefined();
    expect(dropped.media?.inlineDropped).toMatch(/larger than WhatsApp's largest media/);
    const text = extractContent({ conversation: 'hi', base64: 'AAAA' }, 'conversation', null);
    expect(text).toEqual({ type: 'conversation', text: 'hi', media: null, quotedId: null });
  });

  it('reads fileLength as a number, a decimal string or a protobuf Long', () => {
    expect(content('image', { fileLength: 5_000_000_000 }).media?.sizeBytes).toBe(5_000_000_000);
    expect(extractContent({ imageMessage: { fileLength: '1234' } }, 'imageMessage', null).media?.sizeBytes).toBe(1234);
    expect(extractContent({ imageMessage: { fileLength: 99 } }, 'imageMessage', null).media?.sizeBytes).toBe(99);
    expect(extractContent({ imageMessage: {} }, 'imageMessage', null).media?.sizeBytes).toBeNull();
  });
});

describe('extractContent: everything else becomes readable text', () => {
  it('locations, live locations and contact cards', () => {
    expect(content('location').text).toBe('📍 Location\nPaulista office, Av. Paulista, 1000\nhttps://maps.google.com/?q=-23.5614,-46.6559');
    expect(content('liveLocation').text).toBe('📍 Live location\non my way\nhttps://maps.google.com/?q=-22.9,-43.2');
    expect(content('contact').text).toBe('👤 Dr. Ana Souza\n+5511912340000');
    expect(content('contactsArray').text).toBe('👤 Ana\n+5511912340001\n\n👤 Beto\n+5511912340002');
  });

  it('polls, reactions (as a reply to the reacted message) and list/button replies', () => {
    expect(content('poll').text).toBe('📊 Poll: Best day for the visit?\n• Monday\n• Friday');
    expect(content('reaction', { targetId: 'WA-TARGET' })).toMatchObject({ text: 'Reacted ❤️', quotedId: 'WA-TARGET' });
    expect(content('listResponse').text).toBe('Plan B — 200 GB\nR$ 99/month');
    expect(content('buttonsResponse').text).toBe('Yes, confirm');
    expect(content('templateButtonReply').text).toBe('Track my order');
    expect(content('interactiveResponse').text).toBe('Talk to sales');
  });

  it('a type evosync does not know is a visible placeholder, never empty', () => {
    expect(content('unknown').text).toBe('[Unsupported WhatsApp message: keepInChatMessage]');
    expect(extractContent({ messageContextInfo: {} }, 'unknown', null).text).toBe('[Unsupported WhatsApp message: unknown]');
  });

  it('a reply carries the quoted id from the top-level contextInfo Evolution keeps after rewriting extended text', () => {
    const raw = messageRaw('reply', { id: 'R1', ts: TS, targetId: 'Q-1' });
    expect(raw.messageType).toBe('conversation');
    expect(extractContent(raw.message, raw.messageType, raw.contextInfo ?? null)).toMatchObject({ text: 'yes, this one', quotedId: 'Q-1' });
  });

  it('group keys in every LID convention leave the content alone', () => {
    for (const convention of ['2.3.4', '2.3.6', '2.3.7'] as const) {
      const raw = messageRaw('image', { id: `G-${convention}`, ts: TS, groupSender: 0, convention });
      expect(raw.key.remoteJid).toMatch(/@g\.us$/);
      expect(extractContent(raw.message, raw.messageType, raw.contextInfo ?? null).media?.kind).toBe('image');
    }
    expect(messageRaw('text', { id: 'L1', ts: TS, lid: true, convention: '2.3.7' }).key.remoteJid).toBe(CONTACT.pn);
  });
});
