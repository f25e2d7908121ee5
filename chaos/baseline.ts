/**
 * The baseline: what "doing nothing special" gets under the same traffic and faults. A direct
 * relay in the manner of Evolution's built-in Chatwoot integration and of the small bridges
 * around it: an event comes in → it is answered 200 at once → one POST to Chatwoot, no retry, no
 * look-up of the message, no ledger; an agent reply's webhook → one send to WhatsApp. Everything it
 * knows is in memory, so a kill loses what was in flight. It does the fair parts: contacts and
 * conversations are found (searched) before they are created, one creation per chat at a time.
 *
 * Evolution's webhook retries (in memory, compressed here like the rest of the run) still cover the
 * relay's downtime, so the baseline is not charged for events sent while it was down — only for
 * what it had accepted. Chatwoot never retries its webhooks, so replies written while the relay
 * is down are gone, as they are in production.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { createChatwootSim } from '../sim/chatwoot/index.js';
import { createEvolutionSim } from '../sim/evolution/index.js';
import { ChatwootApi } from '../src/chatwoot/api.js';
import { type ChaosPlan, type DirectionVerdict, drive, INSTANCE, toDirection, verdictToChatwoot, verdictToWhatsapp } from './drive.js';
import { freePort } from './evosync-child.js';
import { BURST_REQUESTS_PER_MINUTE, CHATWOOT_FAULTS, EVOLUTION_FAULTS } from './scenario.js';

export interface BaselineResult {
  toChatwoot: DirectionVerdict;
  toWhatsapp: DirectionVerdict;
  /** Accepted events a kill wiped out before they were posted. */
  lostInFlight: number;
  /** Chatwoot writes (contact, conversation or message) that failed; the message was dropped. */
  postFailures: number;
  sendFailures: number;
  repliesWhileDown: number;
  runMs: number;
}

type Json = Record<string, unknown>;

class DirectRelay {
  readonly port: number;
  lostInFlight = 0;
  postFailures = 0;
  sendFailures = 0;
  inFlight = 0;
  #server: Server | null = null;
  readonly #sockets = new Set<Socket>();
  /** Bumped by every kill: work begun under an older generation died with the process. */
  #generation = 0;
  #conversations = new Map<string, Promise<number | null>>();
  readonly #cw: ChatwootApi;
  readonly #evo: { url: string; apiKey: string };

  constructor(port: number, cw: ChatwootApi, evo: { url: string; apiKey: string }) {
    this.port = port;
    this.#cw = cw;
    this.#evo = evo;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => this.#handle(req, res));
    server.on('connection', (s) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
    await new Promise<void>((res) => server.listen(this.port, '127.0.0.1', res));
    this.#server = server;
  }

  async kill(): Promise<void> {
    this.#generation++;
    this.#conversations = new Map();
    this.inFlight = 0;
    const server = this.#server;
    this.#server = null;
    for (const s of this.#sockets) s.destroy();
    if (server) await new Promise((res) => server.close(res));
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.writeHead(200).end('ok');
      let body: Json;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString()) as Json;
      } catch {
        return;
      }
      const gen = this.#generation;
      this.inFlight++;
      const work = req.url?.startsWith('/chatwoot') ? this.#agentReply(body, gen) : this.#evolutionEvent(body, gen);
      void work.finally(() => {
        if (gen === this.#generation) this.inFlight--;
      });
    });
  }

  /** false (and counted) when the process died while this event was in its memory. */
  #alive(gen: number): boolean {
    if (gen === this.#generation) return true;
    this.lostInFlight++;
    return false;
  }

  async #evolutionEvent(body: Json, gen: number): Promise<void> {
    if (body['event'] !== 'messages.upsert') return;
    const data = body['data'] as { key: { id: string; remoteJid: string; fromMe: boolean }; pushName?: string; message?: Json; messageType?: string };
    const conversationId = await this.#conversationFor(data.key.remoteJid, data.pushName ?? data.key.remoteJid, gen);
    if (conversationId === null || !this.#alive(gen)) return;
    const r = await this.#cw.createMessage(conversationId, { content: textOf(data), message_type: data.key.fromMe ? 'outgoing' : 'incoming', source_id: `WAID:${data.key.id}` });
    if (!r.ok) this.postFailures++;
  }

  #conversationFor(chat: string, name: string, gen: number): Promise<number | null> {
    let p = this.#conversations.get(chat);
    if (!p) {
      p = this.#findOrCreate(chat, name, gen);
      const cache = this.#conversations;
      cache.set(chat, p);
      void p.then((id) => {
        if (id === null) cache.delete(chat);
      });
    }
    return p;
  }

  async #findOrCreate(chat: string, name: string, gen: number): Promise<number | null> {
    const inbox = this.#cw.target.inboxId;
    const found = await this.#cw.filterContacts('identifier', chat);
    if (!found.ok) return this.#failed();
    if (!this.#alive(gen)) return null;
    let contactId = found.value[0]?.id;
    if (contactId === undefined) {
      const created = await this.#cw.createContact({ inbox_id: inbox, source_id: chat, name, identifier: chat });
      if (!created.ok) return this.#failed();
      contactId = created.value.id;
    } else {
      const convs = await this.#cw.contactConversations(contactId);
      if (!convs.ok) return this.#failed();
      const open = convs.value.find((c) => c.inbox_id === inbox);
      if (open) return open.id;
    }
    if (!this.#alive(gen)) return null;
    const conv = await this.#cw.createConversation({ inbox_id: inbox, contact_id: contactId, source_id: chat });
    return conv.ok ? conv.value.id : this.#failed();
  }

  #failed(): null {
    this.postFailures++;
    return null;
  }

  async #agentReply(body: Json, gen: number): Promise<void> {
    if (body['event'] !== 'message_created' || body['message_type'] !== 'outgoing' || body['private'] === true) return;
    // Its own posts of WhatsApp messages come back as webhooks too; recognised by their source_id.
    if (typeof body['source_id'] === 'string' && body['source_id'].startsWith('WAID:')) return;
    const number = (body['conversation'] as { contact_inbox?: { source_id?: string } } | undefined)?.contact_inbox?.source_id;
    if (!number || !this.#alive(gen)) return;
    const r = await fetch(`${this.#evo.url}/message/sendText/${INSTANCE}`, {
      method: 'POST', headers: { apikey: this.#evo.apiKey, 'content-type': 'application/json' }, body: JSON.stringify({ number, text: String(body['content'] ?? '') }),
      signal: AbortSignal.timeout(5000),
    }).catch(() => null);
    if (!r?.ok) this.sendFailures++;
  }
}

function textOf(data: { message?: Json; messageType?: string }): string {
  const m = data.message ?? {};
  const ext = m['extendedTextMessage'] as { text?: string } | undefined;
  if (typeof m['conversation'] === 'string') return m['conversation'];
  if (ext?.text) return ext.text;
  for (const v of Object.values(m)) {
    const caption = (v as { caption?: unknown } | null)?.caption;
    if (typeof caption === 'string' && caption) return caption;
  }
  return `[${data.messageType ?? 'message'}]`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runBaseline(o: ChaosPlan & { log?: (line: string) => void }): Promise<BaselineResult> {
  const log = o.log ?? (() => undefined);
  const started = Date.now();
  const cw = await createChatwootSim({ seed: o.seed, requestsPerMinute: BURST_REQUESTS_PER_MINUTE });
  const evo = await createEvolutionSim({ seed: o.seed, instances: [INSTANCE] });
  const api = new ChatwootApi({ url: cw.url, apiToken: cw.token, accountId: cw.accountId, inboxId: cw.inboxId }, 5000);
  const relay = new DirectRelay(await freePort(), api, evo);
  try {
    await relay.start();
    evo.setWebhook(INSTANCE, { url: `${relay.url}/evolution` });
    // Evolution's own in-memory webhook retries (10 attempts), compressed like the rest of the run.
    evo.setWebhookRetry({ maxAttempts: 10, initialDelayMs: 100, maxDelayMs: 1000 });
    cw.setInboxWebhook(`${relay.url}/chatwoot`, null);
    evo.setFaults(EVOLUTION_FAULTS);
    cw.setFaults(CHATWOOT_FAULTS);
    const run = await drive(o, evo, cw, {
      kill: () => relay.kill(),
      start: () => relay.start(),
      closeConnections: async () => undefined,
      restartBroker: async () => undefined,
    }, (line) => log(`baseline ${line}`));
    // Settled once it has nothing left in hand (it never retries, so that is soon).
    await (await fetch(`${cw.url}/_sim/webhooks/idle`)).text();
    for (const deadline = Date.now() + 60_000; relay.inFlight > 0 && Date.now() < deadline; ) await sleep(100);
    const settleMs = Date.now() - run.endedAt;
    const wa = verdictToWhatsapp(run.replies, evo, cw, []);
    return {
      toChatwoot: toDirection(verdictToChatwoot(run.messages, cw, []), null, settleMs),
      toWhatsapp: toDirection(wa, null, settleMs),
      lostInFlight: relay.lostInFlight,
      postFailures: relay.postFailures,
      sendFailures: relay.sendFailures,
      repliesWhileDown: run.faults.repliesWhileDown,
      runMs: Date.now() - started,
    };
  } finally {
    await relay.kill().catch(() => undefined);
    await api.close().catch(() => undefined);
    await evo.close().catch(() => undefined);
    await cw.close().catch(() => undefined);
  }
}
