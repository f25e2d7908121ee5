import { SETTINGS } from '../config/schema.js';

export function helpText(): string {
  const width = Math.max(...SETTINGS.map((s) => s.env.length));
  const settings = SETTINGS.map((s) => `  ${s.env.padEnd(width)}  ${s.description}${s.default ? ` [default: ${s.default}]` : ''}`).join('\n');
  return `evosync — lossless WhatsApp ⇄ Chatwoot sync for Evolution API

Usage: evosync <command> [options]

Commands:
  start            Run the service (webhooks, delivery lanes, health).
  migrate          Apply ledger migrations and exit.
  status [--json]  Print message counts by state from the ledger.
  demo [--messages N] [--chats N] [--seed N]
                   Run the whole loop on simulated Evolution and Chatwoot with an embedded
                   SQLite ledger, while Chatwoot misbehaves, and verify the result.
  help             Show this text.

Settings (environment variables):
${settings}
`;
}
