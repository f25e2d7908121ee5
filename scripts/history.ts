import type { ChatMessage } from '../src/domain/message.js';

let counter = 0;

/** A plain text message of the seeded history (the screenshot's past hour). */
export function chatMessage(instance: string, chat: string, timestampS: number): ChatMessage {
  counter += 1;
  return {
    instance,
    waId: `HIST${timestampS.toString(36).toUpperCase()}${counter}`,
    chat,
    chatPhone: chat.split('@')[0] ?? null,
    chatLid: null,
    isGroup: false,
    fromMe: false,
    timestamp: timestampS,
    pushName: 'Customer',
    sender: null,
    content: { type: 'conversation', text: `message ${counter}`, media: null, quotedId: null },
    event: 'messages.upsert',
  };
}
