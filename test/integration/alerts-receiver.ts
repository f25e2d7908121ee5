import Fastify from 'fastify';

export interface ReceivedAlert {
  text: string;
  alert: string;
  key: string;
  status: 'firing' | 'recovered';
  summary: string;
  details: Record<string, unknown>;
  startedAt: string;
  at: string;
  durationMs: number | null;
}

/**
 * A real HTTP endpoint standing in for Slack or an alert router: it records every alert POSTed to
 * it, and can be told to refuse the next few (as a flaky receiver would) to exercise retries.
 */
export async function alertReceiver(path = '/hooks/alerts'): Promise<{
  url: string;
  received: ReceivedAlert[];
  refused: number;
  failNext(n: number): void;
  waitFor(what: string, ok: (all: ReceivedAlert[]) => boolean, timeoutMs?: number): Promise<ReceivedAlert[]>;
  close(): Promise<void>;
}> {
  // Every connection is cut on close, as the simulators do: with Fastify's default only idle ones
  // are, and a keep-alive connection whose alert was still being answered when the test ended
  // kept close() waiting past the hook's 30 s (seen in CI: "cleanup still running: hook.close()").
  const app = Fastify({ forceCloseConnections: true });
  const received: ReceivedAlert[] = [];
  let fail = 0;
  const state = { refused: 0 };
  app.post(path, async (req, reply) => {
    if (fail > 0) {
      fail -= 1;
      state.refused += 1;
      return reply.code(503).send({ error: 'try later' });
    }
    received.push(req.body as ReceivedAlert);
    return { ok: true };
  });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    url: `${address}${path}`,
    received,
    get refused() {
      return state.refused;
    },
    failNext(n) {
      fail = n;
    },
    async waitFor(what, ok, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (!ok(received)) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; received: ${JSON.stringify(received.map((r) => `${r.status} ${r.key}`))}`);
        await new Promise((r) => setTimeout(r, 25));
      }
      return received;
    },
    close: () => app.close(),
  };
}

/** Alerts of one key, in arrival order, as "firing"/"recovered". */
export const statuses = (all: readonly ReceivedAlert[], key: string): string[] => all.filter((a) => a.key === key).map((a) => a.status);
