import type { Direction } from '../domain/message.js';
import type { LaneItem } from '../domain/lane-item.js';
import type { MessageState } from '../ledger/ledger.js';

/**
 * What one side says about a message: found it; looked and it is not there; did not look (nothing
 * to look up by, or that side is not configured), with why; or could not ask.
 */
export type RemoteView<T> =
  | { status: 'found'; value: T }
  | { status: 'not_found'; detail: string }
  | { status: 'skipped'; detail: string }
  | { status: 'error'; detail: string };

/** The ledger row of a message, as an operator reads it (times are epoch ms). */
export interface LedgerView {
  id: number;
  instance: string;
  waId: string;
  /** The lane: one FIFO per (instance, chat). */
  lane: { instance: string; chat: string };
  direction: Direction;
  source: string;
  event: string;
  fromMe: boolean;
  /** WhatsApp time, epoch seconds. */
  waTs: number;
  state: MessageState;
  attempts: number;
  maybeSent: boolean;
  lastError: string | null;
  nextAttemptAt: number;
  receivedAt: number;
  deliveredAt: number | null;
  cwConversationId: number | null;
  cwMessageId: number | null;
  sentWaId: string | null;
  waStatus: string | null;
  message: LaneItem;
}

export interface ChatwootView {
  conversation: Record<string, unknown>;
  /** null: the conversation exists but the message is not in it. */
  message: Record<string, unknown> | null;
}

export interface EvolutionView {
  /** Evolution's stored rows with this key id (normally one). */
  records: Record<string, unknown>[];
}

export interface MessageTrace {
  ledger: LedgerView;
  chatwoot: RemoteView<ChatwootView>;
  evolution: RemoteView<EvolutionView>;
}

export interface TraceResult {
  query: string;
  traces: MessageTrace[];
}
