/**
 * The error registry. Every error evosync raises on purpose carries a stable `code` that appears in
 * logs, HTTP error replies and the refused-input table, so an operator can search for it and find
 * the fix in the README's error table. Codes are never reused once retired.
 */
export const ErrorCodes = {
  CONFIG_INVALID: 'Configuration is invalid; every problem is listed with the variable name.',
  DATABASE_URL_UNSUPPORTED: 'EVOSYNC_DATABASE_URL must start with sqlite: or postgres://.',
  LEDGER_LOCKED: 'Another evosync process already uses this SQLite ledger.',
  WEBHOOK_TOKEN_INVALID: 'The webhook token is missing or wrong.',
  PAYLOAD_NOT_JSON: 'The request body is not valid JSON.',
  PAYLOAD_INVALID: 'The payload does not match the Evolution API event schema.',
  PAYLOAD_TOO_LARGE: 'The request body is larger than the route accepts (EVOSYNC_MAX_BODY_BYTES for Evolution webhooks); answered 413.',
  PAYLOAD_TOO_DEEP: 'The JSON body nests objects or arrays deeper than evosync reads (64 levels); answered 400 and kept with the reason.',
  LEDGER_REJECTED: 'The ledger refused a message for the data in it (a value its column cannot hold); that message alone was kept in refused with the reason, the rest of its batch stored.',
  EVENT_UNSUPPORTED: 'The event is not one evosync handles; it was acknowledged and ignored.',
  INSTANCE_NOT_SYNCED: 'The event comes from an Evolution instance that is not configured for sync.',
  CHATWOOT_UNREACHABLE: 'Chatwoot could not be reached; delivery is paused, not failed.',
  CHATWOOT_UNAUTHORIZED: 'Chatwoot rejected the API token (401); delivery is paused until it is fixed.',
  CHATWOOT_RATE_LIMITED: 'Chatwoot answered 429; delivery waits for the next rate-limit window.',
  CHATWOOT_SERVER_ERROR: 'Chatwoot answered 5xx; the message will be retried.',
  CHATWOOT_AMBIGUOUS: 'The request may have reached Chatwoot; the next attempt looks it up first.',
  CHATWOOT_REJECTED: 'Chatwoot refused the request permanently (4xx).',
  EVOLUTION_MEDIA_FAILED: 'Fetching a media file from Evolution failed (5xx, timeout, unreachable, bad API key, or a WhatsApp download error); the message will be retried.',
  MEDIA_UNAVAILABLE: 'A media file could not be had (not stored by Evolution, expired on WhatsApp, or over EVOSYNC_MEDIA_MAX_BYTES); the message was delivered with a text saying so and why.',
  CHATWOOT_WEBHOOK_UNAUTHORIZED: 'A Chatwoot webhook had no valid signature or token (or neither CHATWOOT_WEBHOOK_SECRET nor EVOSYNC_CHATWOOT_WEBHOOK_TOKEN is set); it was not stored.',
  CHATWOOT_SIGNATURE_INVALID: 'X-Chatwoot-Signature does not match the body and timestamp for any configured secret.',
  CHATWOOT_SIGNATURE_EXPIRED: 'X-Chatwoot-Timestamp is outside EVOSYNC_CHATWOOT_SIGNATURE_WINDOW_S (a replay, or clocks apart).',
  CHATWOOT_PAYLOAD_INVALID: 'The Chatwoot webhook body does not match the shape evosync relies on; kept with the reason.',
  CHAT_UNRESOLVED: 'The Chatwoot conversation could not be mapped to a WhatsApp chat and instance.',
  EVOLUTION_NOT_CONFIGURED: 'EVOLUTION_URL and EVOLUTION_API_KEY are needed to send agent replies; they wait until set.',
  EVOLUTION_UNREACHABLE: 'Evolution could not be reached; sending is paused, not failed.',
  EVOLUTION_AMBIGUOUS: 'The send may have reached WhatsApp; it is looked up in Evolution before any re-send.',
  EVOLUTION_SERVER_ERROR: 'Evolution answered 5xx; the send is looked up before it is tried again.',
  EVOLUTION_UNAUTHORIZED: 'Evolution rejected EVOLUTION_API_KEY; sending is paused until it is fixed.',
  EVOLUTION_REJECTED: 'Evolution refused the send permanently (4xx), e.g. the number is not on WhatsApp.',
  AGENT_REPLY_TOO_OLD: 'The agent reply is older than EVOSYNC_AGENT_REPLY_MAX_AGE_MS and was not sent.',
  ATTACHMENT_UNAVAILABLE: 'An agent reply attachment could not be fetched from Chatwoot (or its URL is not on CHATWOOT_URL).',
  SHUTTING_DOWN: 'evosync is shutting down and accepts no new work.',
  API_TOKEN_INVALID: 'The operator API (or /api/stats) was called without the bearer token EVOSYNC_API_TOKEN, or EVOSYNC_API_TOKEN is unset.',
  METRICS_TOKEN_INVALID: '/metrics was called without the bearer token EVOSYNC_METRICS_TOKEN (only when that setting is set).',
  DASHBOARD_UNAUTHORIZED: 'A request of the dashboard\'s own script (its file, the live update stream, the live fragment) came without a valid session: logged out, expired, or evosync restarted. Reload the page and log in.',
  INTERNAL_ERROR: 'An unexpected error; the details are in the log, never in the reply.',
  ILLEGAL_STATE: 'A component was used in a state that does not allow it.',
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class EvosyncError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? ErrorCodes[code], options);
    this.name = 'EvosyncError';
    this.code = code;
  }
}

export class ConfigError extends EvosyncError {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super('CONFIG_INVALID', `Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export class IllegalStateError extends EvosyncError {
  constructor(message: string) {
    super('ILLEGAL_STATE', message);
    this.name = 'IllegalStateError';
  }
}

/** Turns whatever a `catch` received into an Error, so logging and chaining never crash on it. */
export function coerceError(value: unknown): Error {
  if (value instanceof Error) return value;
  if (typeof value === 'string') return new Error(value);
  try {
    return new Error(JSON.stringify(value));
  } catch {
    return new Error(String(value));
  }
}
