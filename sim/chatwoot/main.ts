/**
 * Standalone fake Chatwoot: `node dist/sim/chatwoot/main.js --port 3001 --seed 7 --rate-limits`.
 * Flags override env (CHATWOOT_SIM_PORT, CHATWOOT_SIM_HOST, CHATWOOT_SIM_SEED,
 * CHATWOOT_SIM_RATE_LIMITS, CHATWOOT_SIM_SECRET, CHATWOOT_SIM_WEBHOOK_URL). Prints one JSON line
 * with the url and tokens on stdout, so a parent process can read it and start talking.
 */
import { parseArgs } from 'node:util';
import { createChatwootSim } from './server.js';

function intOrUndefined(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number.parseInt(value, 10);
  if (!Number.isFinite(n)) throw new Error(`not an integer: ${value}`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      seed: { type: 'string' },
      'rate-limits': { type: 'boolean' },
      secret: { type: 'string' },
      'webhook-url': { type: 'string' },
    },
    strict: true,
  });
  const env = process.env;
  const secret = values.secret ?? env.CHATWOOT_SIM_SECRET;
  const sim = await createChatwootSim({
    port: intOrUndefined(values.port ?? env.CHATWOOT_SIM_PORT) ?? 0,
    host: values.host ?? env.CHATWOOT_SIM_HOST ?? '127.0.0.1',
    seed: intOrUndefined(values.seed ?? env.CHATWOOT_SIM_SEED) ?? 1,
    rateLimits: values['rate-limits'] ?? ['1', 'true'].includes(env.CHATWOOT_SIM_RATE_LIMITS ?? ''),
    ...(secret ? { secret } : {}),
  });
  const webhookUrl = values['webhook-url'] ?? env.CHATWOOT_SIM_WEBHOOK_URL;
  if (webhookUrl) sim.setInboxWebhook(webhookUrl);
  process.stdout.write(
    `${JSON.stringify({
      url: sim.url,
      accountId: sim.accountId,
      inboxId: sim.inboxId,
      token: sim.token,
      agentToken: sim.agentToken,
      botToken: sim.botToken,
    })}\n`,
  );
  const stop = (): void => {
    sim.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`chatwoot sim failed to start: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
