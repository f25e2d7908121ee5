import { EvosyncChild, freePort, type ProcessStats } from '../../chaos/evosync-child.js';

export { freePort };

/** The operator API token a test process gets unless its env names one. */
export const TEST_API_TOKEN = 'test-operator-api-token';

/**
 * The real service as a child process (the built `evosync start`), so tests can SIGKILL it at any
 * moment and start it again on the same ledger — the only honest way to test crash safety. A thin
 * wrapper of chaos/evosync-child.ts (shared with `npm run chaos`): the operator token defaults to
 * TEST_API_TOKEN, and stats() throws instead of answering null while the process is down, so a
 * test reads `(await proc.stats()).ledger` and fails with the reason.
 */
export class EvosyncProcess extends EvosyncChild {
  constructor(env: Record<string, string>, port: number) {
    super(env, port, env['EVOSYNC_API_TOKEN'] ?? TEST_API_TOKEN);
  }

  override async stats(): Promise<ProcessStats> {
    const s = await super.stats();
    if (!s) throw new Error(`GET ${this.url}/api/stats failed (is evosync up?):\n${this.output.slice(-4000)}`);
    return s;
  }
}

/** The settings that point a child evosync at a fake Chatwoot (its URL, token, account and inbox). */
export function chatwootEnv(cw: { url: string; token: string; accountId: number; inboxId: number }): Record<string, string> {
  return { CHATWOOT_URL: cw.url, CHATWOOT_API_TOKEN: cw.token, CHATWOOT_ACCOUNT_ID: String(cw.accountId), CHATWOOT_INBOX_ID: String(cw.inboxId) };
}
