/**
 * The end-to-end verdict: compares what WhatsApp (the Evolution simulator) holds with what
 * Chatwoot (its simulator) shows, using the ledger only to tell whose fault an ordering
 * difference is. Used by the demo, the end-to-end tests and the benchmarks, so "zero missing,
 * zero duplicated, zero out of order" means the same thing everywhere.
 */
export interface ExpectedMessage {
  instance: string;
  waId: string;
  /** Canonical chat key (phone JID, LID or group JID). */
  chat: string;
  /** WhatsApp timestamp, epoch seconds. */
  timestamp: number;
}

export interface ShownMessage {
  sourceId: string | null;
  conversationId: number;
  /** Insertion order in Chatwoot (what an agent sees). */
  seq: number;
}

export interface LedgerTiming {
  waId: string;
  receivedAt: number;
  deliveredAt: number | null;
  /** When the attempt that delivered it began (falls back to deliveredAt). */
  sentAt?: number | null;
}

export interface Verdict {
  sent: number;
  delivered: number;
  missing: number;
  duplicated: number;
  /** Shown out of WhatsApp order although evosync had both messages in time: evosync's fault. */
  outOfOrder: number;
  /** Shown after newer messages because it reached evosync only after they were delivered. */
  lateArrivals: number;
  /** Chats whose messages landed in more than one conversation. */
  splitChats: number;
  missingIds: string[];
  duplicatedIds: string[];
}

export function verify(expected: ExpectedMessage[], shown: ShownMessage[], timings: LedgerTiming[] = []): Verdict {
  const byId = new Map(expected.map((m) => [m.waId, m]));
  const seen = new Map<string, ShownMessage[]>();
  for (const s of shown) {
    if (!s.sourceId?.startsWith('WAID:')) continue;
    const id = s.sourceId.slice(5);
    if (!byId.has(id)) continue;
    const list = seen.get(id) ?? [];
    list.push(s);
    seen.set(id, list);
  }
  const missingIds = expected.filter((m) => !seen.has(m.waId)).map((m) => m.waId);
  const duplicatedIds = [...seen.entries()].filter(([, l]) => l.length > 1).map(([id]) => id);

  const timing = new Map(timings.map((t) => [t.waId, t]));
  const perChat = new Map<string, { m: ExpectedMessage; s: ShownMessage }[]>();
  for (const [id, list] of seen) {
    const m = byId.get(id)!;
    const key = `${m.instance}\u0000${m.chat}`;
    const arr = perChat.get(key) ?? [];
    arr.push({ m, s: list[0]! });
    perChat.set(key, arr);
  }
  let outOfOrder = 0;
  let lateArrivals = 0;
  let splitChats = 0;
  for (const arr of perChat.values()) {
    if (new Set(arr.map((x) => x.s.conversationId)).size > 1) splitChats += 1;
    arr.sort((a, b) => a.s.seq - b.s.seq);
    // A message is out of place when an earlier-shown message is newer on WhatsApp.
    let newest: { m: ExpectedMessage; s: ShownMessage } | null = null;
    for (const x of arr) {
      if (newest && x.m.timestamp < newest.m.timestamp) {
        const tx = timing.get(x.m.waId);
        const tn = timing.get(newest.m.waId);
        const newerSentAt = tn?.sentAt ?? tn?.deliveredAt ?? null;
        const arrivedAfterNewerWasDelivered = tx && newerSentAt != null && tx.receivedAt > newerSentAt;
        if (arrivedAfterNewerWasDelivered) lateArrivals += 1;
        else outOfOrder += 1;
      }
      if (!newest || x.m.timestamp > newest.m.timestamp) newest = x;
    }
  }
  return {
    sent: expected.length,
    delivered: seen.size,
    missing: missingIds.length,
    duplicated: duplicatedIds.length,
    outOfOrder,
    lateArrivals,
    splitChats,
    missingIds: missingIds.slice(0, 20),
    duplicatedIds: duplicatedIds.slice(0, 20),
  };
}

export function formatVerdict(v: Verdict): string {
  const rows: [string, number][] = [
    ['sent', v.sent], ['delivered', v.delivered], ['missing', v.missing], ['duplicated', v.duplicated],
    ['out-of-order', v.outOfOrder], ['late arrivals (marked)', v.lateArrivals], ['split chats', v.splitChats],
  ];
  return rows.map(([k, n]) => `  ${k.padEnd(24)} ${String(n).padStart(8)}`).join('\n');
}
