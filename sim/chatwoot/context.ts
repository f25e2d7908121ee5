/**
 * What the domain operations share: the store, the clock, seeded ids and the event sink that
 * stands in for Chatwoot's dispatcher (after-commit events → webhook jobs).
 */
import type { IdSource } from './coerce.js';
import type { Actor, Changes } from './model.js';
import type { Store } from './store.js';

export type DomainEvent =
  | { event: 'conversation_created'; conversationPk: number }
  | { event: 'conversation_status_changed' | 'conversation_updated'; conversationPk: number; changes: Changes }
  | { event: 'message_created' | 'message_updated'; messageId: number }
  | {
      event: 'conversation_typing_on' | 'conversation_typing_off';
      conversationPk: number;
      actor: Actor;
      isPrivate: boolean;
    };

export interface SimContext {
  readonly store: Store;
  readonly ids: IdSource;
  /** ms since the epoch. */
  now(): number;
  /** Called after the "transaction" commits; delivery is asynchronous. */
  emit(event: DomainEvent): void;
  /** FRONTEND_URL: used for attachment data_url. */
  baseUrl(): string;
  /** Where ActiveStorage's redirect points (the storage service); default baseUrl(). */
  storageUrl?(): string;
  readonly messagesPerMinuteLimit: number;
}

export type MessageEvent = Extract<DomainEvent, { messageId: number }>;
export type ConversationEvent = Exclude<DomainEvent, MessageEvent>;

export const isMessageEvent = (e: DomainEvent): e is MessageEvent => 'messageId' in e;
