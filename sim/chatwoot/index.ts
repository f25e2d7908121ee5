/**
 * Faithful fake Chatwoot (application API, v4.10–4.13) for tests, benchmarks, the demo and the
 * chaos run. Behaviour follows /work/shared/reference/chatwoot-api.md; see server.ts.
 */
export { createChatwootSim } from './server.js';
export type {
  AgentReplyAttachment,
  ChatwootFaults,
  ChatwootSim,
  ChatwootSimOptions,
  ChatwootSnapshot,
  ChatwootStats,
  SnapshotMessageType,
} from './types.js';
