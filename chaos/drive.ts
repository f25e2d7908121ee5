/**
 * The part of the chaos run both contestants share: the same seeded WhatsApp traffic and agent
 * replies, paced over the same time, with the same faults at the same moments, and the same
 * verdict. Only the system under test differs (evosync, or the direct relay of baseline.ts).
 */
import type { ChatwootSim } from '../sim/chatwoot/index.js';
import type { EvolutionSim, MessageKind, StoredMessage } from '../sim/evolution/index.js';
import { createRandom } from '../sim/shared/random.js';
import { type LedgerTiming, verify, type Verdict } from '../sim/verify.js';

export const INSTANCE = 'chaos';

/** Text and media in the proportions of a busy support line; reactions and polls left out (not messages in Chatwoot). */
export const KINDS: Partial<Record<MessageKind, number>> = {
  text: 50, extendedText: 12, image: 12, audio: 4, ptt: 6, video: 4, document: 6, sticker: 3, location: 2, contact: 1,
};

export interface ChaosPlan {
  seed: number;
  messages: number;
  chats: number;
  replies: number;
  /** How long the traffic is spread over. */
  trafficMs: number;
  slices: number;
  outageMs: number;
  /** SIGKILLs of the system under test, each followed by this much downtime. */
  kills: number;
  downMs: number;
  /** 429 bursts: Chatwoot's rate limit switched on (at a low per-minute allowance) this long, three times. */
  burstMs: number;
}

/** What the system under test must let the run do to it. */
export interface Contestant {
  kill(): Promise<void>;
  start(): Promise<void>;
  /** Force-close every broker connection (no-op for a contestant without a broker). */
  closeConnections(): Promise<void>;
  /** Restart the broker (no-op for a contestant without a broker). */
  restartBroker(): Promise<void>;
}

export interface ReplyRecord {
  index: number;
  cwMessageId: number;
  conversationId: number;
  text: string;
  at: number;
}

export interface FaultLog {
  kills: number;
  connectionsClosed: number;
  brokerRestarts: number;
  bursts: number;
  outageMs: number;
  /** Evolution stored the message but never published its upsert. */
  neverPublished: number;
  publishedTwice: number;
  /** Lost by Evolution because its own AMQP channel was down (never published either). */
  lostOnEvolutionChannel: number;
  repliesWhileDown: number;
  events: string[];
}

export interface DriveResult {
  messages: StoredMessage[];
  replies: ReplyRecord[];
  faults: FaultLog;
  /** When the last message was published and the last fault was over. */
  endedAt: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');

/**
 * Publishes the traffic in slices and lets the faults land in the middle of it (they run beside
 * the publishing, as they would in production, not between clean phases).
 */
export async function drive(plan: ChaosPlan, evo: EvolutionSim, cw: ChatwootSimLike, who: Contestant, log: (line: string) => void): Promise<DriveResult> {
  const t0 = Date.now();
  const note = (what: string) => {
    const line = `${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s  ${what}`;
    faults.events.push(line);
    log(line);
  };
  const faults: FaultLog = {
    kills: 0, connectionsClosed: 0, brokerRestarts: 0, bursts: 0, outageMs: plan.outageMs, neverPublished: 0, publishedTwice: 0,
    lostOnEvolutionChannel: 0, repliesWhileDown: 0, events: [],
  };
  // One message a second per the generator's clock, ending a minute ago: every message is in the past,
  // and a reconcile window of the whole history finds them all.
  const startTimestamp = Math.floor(Date.now() / 1000) - plan.messages - 60;
  const messages = evo.generate({ instance: INSTANCE, chats: plan.chats, messages: plan.messages, seed: plan.seed, kinds: KINDS, fromMeRate: 0.1, lidRate: 0.2, groupRate: 0.1, startTimestamp, storeOnPublish: true });
  const rng = createRandom(plan.seed ^ 0x5eed);
  const S = plan.slices;
  const at = (fraction: number) => Math.min(S - 1, Math.floor(S * fraction));
  const killSlices = new Map<number, number>();
  for (let k = 0; k < plan.kills; k++) killSlices.set(at((k + 0.3) / plan.kills), k + 1);
  // Two bursts while Chatwoot is up, the third right after its outage, into the backlog it left.
  const bursts = new Set([at(0.17), at(0.3)]);
  const outageAt = at(0.35);
  const closeAt = at(0.22);
  const restartAt = at(0.62);

  let down = false;
  const pending: Promise<unknown>[] = [];
  const replies: ReplyRecord[] = [];
  let repliesDue = 0;
  const per = Math.ceil(plan.messages / S);
  const sliceMs = plan.trafficMs / S;

  for (let s = 0; s < S; s++) {
    const sliceStart = Date.now();
    const kill = killSlices.get(s);
    if (kill !== undefined) {
      pending.push((async () => {
        note(`SIGKILL #${kill}`);
        down = true;
        await who.kill();
        faults.kills++;
        await sleep(plan.downMs);
        await who.start();
        down = false;
        note(`restarted after SIGKILL #${kill}`);
      })());
    }
    if (s === closeAt) {
      pending.push((async () => {
        note('broker: close all connections');
        await who.closeConnections();
        faults.connectionsClosed++;
      })());
    }
    if (s === restartAt) {
      pending.push((async () => {
        note('broker: restart');
        await who.restartBroker();
        faults.brokerRestarts++;
        note('broker: back');
      })());
    }
    const burst = async () => {
      note('Chatwoot: 429 burst');
      cw.setFaults({ rateLimits: true });
      await sleep(plan.burstMs);
      cw.setFaults({ rateLimits: false });
      faults.bursts++;
    };
    if (bursts.has(s)) pending.push(burst());
    if (s === outageAt && plan.outageMs > 0) {
      pending.push((async () => {
        note(`Chatwoot: outage for ${plan.outageMs / 1000} s`);
        cw.setFaults({ outage: true });
        await sleep(plan.outageMs);
        cw.setFaults({ outage: false });
        note('Chatwoot: outage over');
        await burst();
      })());
    }

    // Agents do not wait for Evolution: a publish held up by webhook retries (while a relay is
    // down) must not hold the replies back until it is up again.
    const publishing = evo.publish(messages.slice(s * per, (s + 1) * per), { concurrency: 16 });

    // Agents answer in conversations that exist by now (the contestant created them from the traffic).
    repliesDue += Math.floor(((s + 1) * plan.replies) / S) - Math.floor((s * plan.replies) / S);
    const convs = cw.snapshot().conversations.filter((c) => c.inbox_id === cw.inboxId).map((c) => c.id);
    if (convs.length > 0 && (repliesDue > 0)) {
      for (; repliesDue > 0; repliesDue--) {
        const index = replies.length;
        const conversationId = rng.pick(convs);
        const text = `chaos reply ${index}`;
        const attachments = index % 10 === 3 ? [{ fileName: `photo-${index}.png`, contentType: 'image/png', data: PNG }] : undefined;
        const m = await cw.agentReply(conversationId, text, attachments ? { attachments } : {});
        if (down) faults.repliesWhileDown++;
        replies.push({ index, cwMessageId: m['id'] as number, conversationId, text, at: Date.now() });
      }
    }
    const report = await publishing;
    faults.neverPublished += report.dropped;
    faults.publishedTwice += report.duplicated;
    faults.lostOnEvolutionChannel += report.rabbitmqDropped;
    await sleep(Math.max(0, sliceStart + sliceMs - Date.now()));
  }
  await Promise.all(pending);
  note(`traffic and faults over: ${messages.length} messages, ${replies.length} replies`);
  return { messages, replies, faults, endedAt: Date.now() };
}

/** The slice of the Chatwoot simulator the driver uses. */
type ChatwootSimLike = Pick<ChatwootSim, 'setFaults' | 'snapshot' | 'agentReply' | 'inboxId'>;

export interface DirectionVerdict {
  expected: number;
  delivered: number;
  missing: number;
  duplicated: number;
  outOfOrder: number;
  /** Shown after newer ones because the system learnt of them only later (repaired): marked, not disorder. */
  lateArrivals: number;
  /** Chats whose messages landed in more than one conversation (or, to WhatsApp, more than one chat). */
  splitChats: number;
  /** null: the contestant has no such state (the baseline forgets what fails). */
  dead: number | null;
  /** From the end of traffic and faults to the last message of this direction in place; null = never. */
  settleMs: number | null;
  missingIds: string[];
  duplicatedIds: string[];
}

/** Reply number in a WhatsApp message sent for an agent reply (text, or caption of media). */
export function replyIndexOf(m: StoredMessage): number | null {
  const msg = m.message as Record<string, { caption?: string; text?: string } | string | undefined>;
  const texts = [msg['conversation'], (msg['extendedTextMessage'] as { text?: string } | undefined)?.text];
  for (const k of ['imageMessage', 'documentMessage', 'videoMessage']) texts.push((msg[k] as { caption?: string } | undefined)?.caption);
  for (const t of texts) {
    const found = typeof t === 'string' ? /chaos reply (\d+)/.exec(t) : null;
    if (found) return Number(found[1]);
  }
  return null;
}

/** WhatsApp → Chatwoot: every message Evolution stored, once, in its chat's conversation, in order. */
export function verdictToChatwoot(messages: StoredMessage[], cw: Pick<ChatwootSim, 'snapshot'>, timings: LedgerTiming[]): Verdict {
  return verify(
    messages.map((m) => ({ instance: m.instance, waId: m.key.id, chat: m.canonicalJid, timestamp: m.messageTimestamp })),
    cw.snapshot().messages.map((m) => ({ sourceId: m.source_id, conversationId: m.conversation_id, seq: m.seq })),
    timings,
  );
}

/**
 * Chatwoot → WhatsApp, with the same verifier: a reply is "shown" when WhatsApp holds a message
 * with its text; order is the order WhatsApp stored them in, per chat. A reply echoed back into
 * Chatwoot as a new message is a duplicate too (the agent would see it twice).
 */
export function verdictToWhatsapp(replies: ReplyRecord[], evo: Pick<EvolutionSim, 'sent'>, cw: Pick<ChatwootSim, 'snapshot'>, timings: LedgerTiming[]): Verdict & { echoedBack: number } {
  const sent = evo.sent(INSTANCE);
  const chatNo = new Map<string, number>();
  const shown = sent.flatMap((m, seq) => {
    const i = replyIndexOf(m);
    const r = i === null ? undefined : replies[i];
    if (!r) return [];
    const chat = m.key.remoteJid;
    if (!chatNo.has(chat)) chatNo.set(chat, chatNo.size + 1);
    return [{ sourceId: `WAID:cw:${r.cwMessageId}`, conversationId: chatNo.get(chat)!, seq }];
  });
  const v = verify(replies.map((r) => ({ instance: INSTANCE, waId: `cw:${r.cwMessageId}`, chat: String(r.conversationId), timestamp: r.index })), shown, timings);
  const sentIds = new Set(sent.filter((m) => replyIndexOf(m) !== null).map((m) => `WAID:${m.key.id}`));
  const echoedBack = cw.snapshot().messages.filter((m) => m.source_id !== null && sentIds.has(m.source_id)).length;
  return { ...v, duplicated: v.duplicated + echoedBack, echoedBack };
}

export function toDirection(v: Verdict, dead: number | null, settleMs: number | null): DirectionVerdict {
  return {
    expected: v.sent, delivered: v.delivered, missing: v.missing, duplicated: v.duplicated, outOfOrder: v.outOfOrder, lateArrivals: v.lateArrivals, splitChats: v.splitChats,
    dead, settleMs, missingIds: v.missingIds, duplicatedIds: v.duplicatedIds,
  };
}
