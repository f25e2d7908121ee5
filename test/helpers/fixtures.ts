import type { ChatMessage } from '../../src/domain/message.js';

let counter = 0;

/** A normalised chat message for ledger and lane tests. */
export function chatMessage(over: Partial<ChatMessage> & { chat?: string } = {}): ChatMessage {
  counter += 1;
  const chat = over.chat ?? '5511999990001@s.whatsapp.net';
  return {
    instance: 'inst1',
    waId: `WA${Date.now().toString(36)}${counter}`,
    chat,
    chatPhone: chat.split('@')[0] ?? null,
    chatLid: null,
    isGroup: false,
    fromMe: false,
    timestamp: 1_760_000_000 + counter,
    pushName: 'Maria',
    sender: null,
    content: { type: 'conversation', text: `hello ${counter}`, media: null, quotedId: null },
    event: 'messages.upsert',
    ...over,
  };
}
