import { createEvosync, type Evosync } from '../app.js';
import { loadConfig } from '../config/load.js';
import { createLogger } from '../lib/logger.js';
import { redactUrl } from '../lib/logger.js';

/** `evosync start`: validated config → service → listening. Returns the running service. */
export async function startCommand(env: NodeJS.ProcessEnv): Promise<Evosync> {
  const config = loadConfig(env, { require: 'service' });
  const logger = createLogger(config.logLevel);
  const app = await createEvosync(config, { logger });
  let address: string;
  try {
    address = await app.listen();
  } catch (error) {
    // Delivery, intake and the ledger's threads already run: stopped, or the process would
    // carry on half-started (no HTTP) and never exit.
    await app.stop().catch(() => {});
    throw error;
  }
  logger.info(
    { address, database: redactUrl(config.database.url.replace(/\/\/([^:@/]+):[^@/]+@/, '//$1:[redacted]@')), instances: config.instances ?? 'all', chatwoot: config.chatwoot.url, inbox: config.chatwoot.inboxId },
    'evosync started',
  );
  return app;
}
