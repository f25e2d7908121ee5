import { createEvosync, type Evosync } from '../app.js';
import { loadConfig } from '../config/load.js';
import { createLogger } from '../lib/logger.js';
import { redactUrl } from '../lib/logger.js';

/** `evosync start`: validated config → service → listening. Returns the running service. */
export async function startCommand(env: NodeJS.ProcessEnv): Promise<Evosync> {
  const config = loadConfig(env, { require: 'service' });
  const logger = createLogger(config.logLevel);
  const app = await createEvosync(config, { logger });
  const address = await app.listen();
  logger.info(
    { address, database: redactUrl(config.database.url.replace(/\/\/([^:@/]+):[^@/]+@/, '//$1:[redacted]@')), instances: config.instances ?? 'all', chatwoot: config.chatwoot.url, inbox: config.chatwoot.inboxId },
    'evosync started',
  );
  return app;
}
