import type { ChatwootApi } from '../chatwoot/api.js';
import type { EvolutionClient } from '../evolution/client.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { Ledger } from '../ledger/ledger.js';
import type { DeliveryRecorder } from '../metrics/recorders.js';
import type { UpstreamGate } from './gate.js';
import type { RetryPolicy } from './outcome.js';

/** What the handlers of agent actions (replies, deletes) and receipts need. */
export interface WhatsAppHandlerDeps {
  ledger: Ledger;
  /** null while EVOLUTION_URL / EVOLUTION_API_KEY are unset: replies wait. */
  evolution: EvolutionClient | null;
  evolutionGate: UpstreamGate;
  apiFor(instance: string): ChatwootApi;
  gateFor(api: ChatwootApi): UpstreamGate;
  policy: RetryPolicy;
  /** Prefix replies with the agent's name. */
  signature: boolean;
  maxAgeMs: number;
  receiptWaitMs: number;
  httpTimeoutMs: number;
  /**
   * Where agent-reply files may be fetched from besides the reply's Chatwoot (EVOSYNC_MEDIA_ALLOWED_HOSTS),
   * and the operator's cap on a file (EVOSYNC_MEDIA_MAX_BYTES); WhatsApp's own limits apply on top.
   */
  media?: { allowedHosts: readonly string[]; maxBytes: number };
  clock: Clock;
  logger: Logger;
  metrics?: DeliveryRecorder;
}
