import type { ChatLink } from '../ledger/ledger.js';
import type { SharedRedis } from './shared-redis.js';

/**
 * What one process learned about a chat (its Chatwoot contact and conversation, its LID ↔ phone
 * pair), readable by every other process before it asks the ledger or Chatwoot. A cache in front
 * of the ledger, never instead of it: the ledger is written first and stays the truth, and every
 * miss, timeout or Redis outage falls through to it.
 */
export interface SharedLookups {
  /** undefined = not cached (ask the ledger). */
  getLink(instance: string, chat: string, accountId: number, inboxId: number): Promise<ChatLink | undefined>;
  saveLink(link: ChatLink): Promise<void>;
  forgetLink(instance: string, chat: string, accountId: number, inboxId: number): Promise<void>;
  /** The other address of a person (LID ↔ phone JID), when known; undefined = not cached. */
  getPair(instance: string, jid: string): Promise<{ lid: string; phoneJid: string } | undefined>;
  savePair(instance: string, pair: { lid: string; phoneJid: string }): Promise<void>;
}

/** A link is re-read from the ledger at least this often, so a cache cannot outlive a fix made there. */
const LINK_TTL_MS = 60 * 60_000;
/** A learned pair does not change (a LID names one phone), so it may be kept longer. */
const PAIR_TTL_MS = 6 * 60 * 60_000;

export class RedisLookups implements SharedLookups {
  readonly #redis: SharedRedis;
  hits = 0;
  misses = 0;

  constructor(redis: SharedRedis) {
    this.#redis = redis;
  }

  async getLink(instance: string, chat: string, accountId: number, inboxId: number): Promise<ChatLink | undefined> {
    const raw = await this.#redis.run((c) => c.get(this.#linkKey(instance, chat, accountId, inboxId)), null);
    const link = raw ? parseLink(raw) : undefined;
    if (link) this.hits += 1;
    else this.misses += 1;
    return link;
  }

  async saveLink(link: ChatLink): Promise<void> {
    await this.#redis.run((c) => c.set(this.#linkKey(link.instance, link.chat, link.accountId, link.inboxId), JSON.stringify(link), 'PX', LINK_TTL_MS), null);
  }

  async forgetLink(instance: string, chat: string, accountId: number, inboxId: number): Promise<void> {
    await this.#redis.run((c) => c.del(this.#linkKey(instance, chat, accountId, inboxId)), 0);
  }

  async getPair(instance: string, jid: string): Promise<{ lid: string; phoneJid: string } | undefined> {
    const raw = await this.#redis.run((c) => c.get(this.#redis.key('pair', instance, jid)), null);
    if (!raw) return undefined;
    try {
      const p = JSON.parse(raw) as { lid?: unknown; phoneJid?: unknown };
      return typeof p.lid === 'string' && typeof p.phoneJid === 'string' ? { lid: p.lid, phoneJid: p.phoneJid } : undefined;
    } catch {
      return undefined;
    }
  }

  async savePair(instance: string, pair: { lid: string; phoneJid: string }): Promise<void> {
    const value = JSON.stringify(pair);
    await this.#redis.run(
      (c) => c.multi().set(this.#redis.key('pair', instance, pair.lid), value, 'PX', PAIR_TTL_MS).set(this.#redis.key('pair', instance, pair.phoneJid), value, 'PX', PAIR_TTL_MS).exec(),
      null,
    );
  }

  #linkKey(instance: string, chat: string, accountId: number, inboxId: number): string {
    return this.#redis.key('link', accountId, inboxId, instance, chat);
  }
}

function parseLink(raw: string): ChatLink | undefined {
  try {
    const l = JSON.parse(raw) as Partial<ChatLink>;
    if (typeof l.instance !== 'string' || typeof l.chat !== 'string' || typeof l.contactId !== 'number' || typeof l.contactSourceId !== 'string') return undefined;
    if (typeof l.accountId !== 'number' || typeof l.inboxId !== 'number') return undefined;
    return {
      instance: l.instance, chat: l.chat, accountId: l.accountId, inboxId: l.inboxId, contactId: l.contactId, contactSourceId: l.contactSourceId,
      conversationId: typeof l.conversationId === 'number' ? l.conversationId : null,
      conversationCheckedAt: typeof l.conversationCheckedAt === 'number' ? l.conversationCheckedAt : null,
    };
  } catch {
    return undefined;
  }
}
