import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Paths that may carry credentials anywhere evosync logs an object: request headers, config
 * snapshots and upstream error contexts. pino replaces them before serialisation, so a secret never
 * reaches a log line even when a whole object is logged by mistake.
 */
export const REDACT_PATHS = [
  'apiKey', 'apikey', 'token', 'secret', 'password',
  '*.apiKey', '*.apikey', '*.token', '*.secret', '*.password',
  '*.apiToken', '*.webhookToken', '*.webhookSecret',
  'headers.authorization', 'headers.apikey', 'headers.api_access_token', 'headers["x-evosync-token"]',
  'req.headers.authorization', 'req.headers.apikey', 'req.headers.api_access_token', 'req.headers["x-evosync-token"]',
  'config.evolution.apiKey', 'config.chatwoot.apiToken', 'config.webhookToken',
];

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: 'evosync' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination as never,
  );
}

/** Replaces every query-string token in a URL, for logging request URLs safely. */
export function redactUrl(url: string): string {
  return url.replace(/([?&](?:token|apikey|api_key|access_token)=)[^&#]*/gi, '$1[redacted]').replace(/(\/t\/)[^/?#]+/, '$1[redacted]');
}
