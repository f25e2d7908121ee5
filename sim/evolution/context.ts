/**
 * The state one sim shares between its parts (traffic, publisher, sends, REST routes). Separate
 * PRNG streams per concern keep a run replayable: e.g. webhook jitter consumed by a slow receiver
 * does not shift the ids of the next generated batch.
 */
import { createRandom, type Random } from '../shared/random.js';
import { Dispatcher } from './dispatcher.js';
import type { InstanceState } from './instances.js';
import { MediaStore } from './media.js';
import { MessageStore } from './store.js';
import type { GeneratedChat, LidConvention, PublishFaults, SendFaults } from './types.js';
import { createCuid } from './wa-ids.js';
import { WebhookTransport } from './webhook.js';

export interface SimContext {
  apiKey: string;
  convention: LidConvention;
  serverUrl: string;
  clock: () => number;
  log: (msg: string) => void;
  contactEvents: boolean;
  chatwootEnabled: boolean;
  logicalDelete: boolean;
  /** DATABASE_SAVE_DATA_NEW_MESSAGE: false hides the stored rows from every database read. */
  saveNewMessages: boolean;
  rng: { ids: Random; faults: Random; sends: Random; seeds: Random };
  cuid: () => string;
  instances: Map<string, InstanceState>;
  /** Every JID (phone, LID, group) of generated chats → its chat: the ground truth for sends. */
  chats: Map<string, GeneratedChat>;
  store: MessageStore;
  media: MediaStore;
  dispatcher: Dispatcher;
  faults: PublishFaults;
  sendFaults: Required<SendFaults>;
  /** Fire-and-forget emits (Evolution does not await them); close() waits for these. */
  background: Set<Promise<unknown>>;
}

/** Start an emit without awaiting it, as Evolution's handlers do, but keep track of it. */
export function inBackground(ctx: SimContext, work: Promise<unknown>): void {
  const p = work.catch((err: unknown) => ctx.log(`background emit failed: ${(err as Error).message}`));
  ctx.background.add(p);
  void p.finally(() => ctx.background.delete(p));
}

export function createContext(o: {
  seed: number;
  apiKey: string;
  convention: LidConvention;
  serverUrl: string;
  clock: () => number;
  log: (msg: string) => void;
  exposeApiKey: boolean;
  contactEvents: boolean;
  chatwootEnabled: boolean;
  logicalDelete: boolean;
  saveNewMessages: boolean;
}): SimContext {
  // Distinct, fixed offsets per stream: same seed → same streams.
  const stream = (n: number): Random => createRandom((o.seed * 0x9e3779b1 + n * 0x85ebca6b) >>> 0);
  const ids = stream(1);
  const webhook = new WebhookTransport(stream(5), o.clock, o.log);
  return {
    apiKey: o.apiKey,
    convention: o.convention,
    serverUrl: o.serverUrl,
    clock: o.clock,
    log: o.log,
    contactEvents: o.contactEvents,
    chatwootEnabled: o.chatwootEnabled,
    logicalDelete: o.logicalDelete,
    saveNewMessages: o.saveNewMessages,
    rng: { ids, faults: stream(2), sends: stream(3), seeds: stream(4) },
    cuid: createCuid(ids, o.clock),
    instances: new Map(),
    chats: new Map(),
    store: new MessageStore(),
    media: new MediaStore(),
    dispatcher: new Dispatcher(webhook, { serverUrl: o.serverUrl, exposeApiKey: o.exposeApiKey, clock: o.clock }),
    faults: { dropRate: 0, duplicateRate: 0, reorderWindow: 0, receiptBeforeMessage: false },
    sendFaults: { errorRate: 0, timeoutAfterSendRate: 0, hangMs: 1_000, notOnWhatsappJids: [], errorStatus: 500 },
    background: new Set(),
  };
}

export function nowIso(ctx: SimContext): string {
  return new Date(ctx.clock()).toISOString();
}

export function requireInstance(ctx: SimContext, name: string): InstanceState {
  const inst = ctx.instances.get(name);
  if (!inst) throw new Error(`unknown instance "${name}"`);
  return inst;
}
