import { afterAll, describe, expect, it } from 'vitest';
import { agentRig, type AgentRig, conversationFor, INSTANCE, until, webhooksIdle } from '../helpers/agent-replies.js';

/**
 * The acceptance run for Chatwoot → WhatsApp: 500 agent replies (text, images and documents) while
 * 10% of Evolution's sends fail ambiguously (sent, stored and emitted, then the connection dies
 * before the answer) and Chatwoot duplicates some webhooks. Every reply must reach WhatsApp exactly
 * once, and its delivery status must reach Chatwoot.
 */
const REPLIES = 500;
const CHATS = 40;
const PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');
const PDF = Buffer.from('%PDF-1.4\n% evosync test\n', 'utf8');

let rig: AgentRig | null = null;
afterAll(async () => {
  await rig?.close();
});

describe('acceptance: 500 agent replies with 10% ambiguous Evolution send failures', () => {
  it('each reaches WhatsApp exactly once and its status reaches Chatwoot', { timeout: 90_000 }, async () => {
    rig = await agentRig({ seed: 21, extra: { EVOSYNC_DELIVERY_CONCURRENCY: '32' } });
    const r = rig;
    r.evo.setSendFaults({ timeoutAfterSendRate: 0.1, hangMs: 200 });
    r.cw.setFaults({ webhookDuplicateRate: 0.05 });
    const convs = [];
    for (let i = 0; i < CHATS; i++) convs.push(await conversationFor(r.api, `55119555${String(i).padStart(5, '0')}`));

    const expected = new Map<number, string>();
    for (let i = 0; i < REPLIES; i++) {
      const c = convs[i % CHATS]!;
      const kind = i % 10 === 3 ? 'image' : i % 10 === 7 ? 'document' : 'text';
      const text = `agent reply ${i} (**${kind}**)`;
      const attachments =
        kind === 'image' ? [{ fileName: `photo-${i}.png`, contentType: 'image/png', data: PNG }] : kind === 'document' ? [{ fileName: `terms-${i}.pdf`, contentType: 'application/pdf', data: PDF }] : undefined;
      const m = await r.cw.agentReply(c.conversationId, text, attachments ? { attachments } : {});
      expected.set(m['id'] as number, `agent reply ${i} (*${kind}*)`);
    }

    await until('every reply delivered', async () => {
      const c = await r.app.ledger.listMessages({ instance: INSTANCE, direction: 'to_whatsapp', limit: 10_000 });
      return c.length === REPLIES && c.every((x) => x.state === 'delivered');
    }, 60_000);

    const sent = r.evo.sent(INSTANCE);
    const captions = sent.map((m) => {
      const msg = m.message as Record<string, { caption?: string; text?: string } | string | undefined>;
      const c = msg['conversation'] ?? (msg['extendedTextMessage'] as { text?: string } | undefined)?.text ?? (msg['imageMessage'] as { caption?: string } | undefined)?.caption ?? (msg['documentMessage'] as { caption?: string } | undefined)?.caption;
      return String(c);
    });
    // Exactly once: every expected text once, nothing else, no duplicates.
    expect(sent).toHaveLength(REPLIES);
    expect(new Set(captions).size).toBe(REPLIES);
    expect([...captions].sort()).toEqual([...expected.values()].sort());
    expect(sent.filter((m) => 'imageMessage' in m.message)).toHaveLength(REPLIES / 10);
    expect(sent.filter((m) => 'documentMessage' in m.message)).toHaveLength(REPLIES / 10);

    // The ambiguous failures happened and were settled by look-ups, not by sending again.
    const replies = await r.app.ledger.listMessages({ instance: INSTANCE, direction: 'to_whatsapp', limit: 10_000 });
    expect(replies.filter((x) => x.attempts > 1).length).toBeGreaterThanOrEqual(REPLIES * 0.05);
    // Each send's echo came back from Evolution and was recognised, never posted to Chatwoot.
    const echoes = await until('echoes settled', async () => {
      const rows = (await r.app.ledger.listMessages({ instance: INSTANCE, direction: 'to_chatwoot', limit: 100_000 })).filter((x) => x.event === 'send.message');
      return rows.length === REPLIES && rows.every((x) => x.state !== 'pending') ? rows : null;
    });
    expect(echoes.every((x) => x.state === 'skipped' && x.lastError === 'echo of agent reply')).toBe(true);

    // Every send's receipt from WhatsApp → the reply shows delivered in Chatwoot.
    for (const m of sent) await r.evo.receipt(INSTANCE, m.key.id, 'DELIVERY_ACK');
    await until('every status in Chatwoot', () => {
      const statuses = r.cw.snapshot().messages.filter((m) => expected.has(m.id)).map((m) => m.status);
      return statuses.length === REPLIES && statuses.every((s) => s === 'delivered');
    }, 30_000);
    await webhooksIdle(r);
    const counts = await r.app.ledger.counts();
    expect(counts.dead).toBe(0);
    expect(counts.pending).toBe(0);
    // Nothing of the WhatsApp side came back into Chatwoot as a new message (echoes skipped).
    expect(r.cw.snapshot().messages).toHaveLength(REPLIES);
  });
});
