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
  reconcile --instance X --since 2h [--chat JID] [--json]
                   Compare Evolution's stored messages of the window with the ledger and
                   commit the missing ones for delivery (needs EVOLUTION_URL/EVOLUTION_API_KEY).
  check --instance X --since 2h [--chat JID] [--json]
                   Read-only drift report Evolution ↔ ledger ↔ Chatwoot; exit 1 on drift.
  trace <whatsapp id | chatwoot id> [--json]
                   The full history of one message: its ledger row (state, attempts, last
                   error, times, ids on both sides, lane) and the message as Chatwoot and
                   Evolution hold it; exit 1 when the ledger does not know the id.
  doctor [--instance X] [--json]
                   Check the setup (config, ledger, Evolution key, instances, webhook or
                   RabbitMQ, built-in Chatwoot integration, message store, Chatwoot token,
                   inbox, its webhook URL and secret) and print the fix of each problem;
                   exit 1 when a check fails.
  setup [--dry-run] [--disable-builtin-chatwoot] [--instance X] [--inbox-name NAME] [--json]
                   Point Chatwoot and Evolution at evosync (EVOSYNC_PUBLIC_URL): create or
                   verify the API inbox and its webhook URL, read back its signing secret, set
                   each instance's webhook (or RabbitMQ events); with the flag, turn Evolution's
                   built-in Chatwoot integration off. Changes only what differs; exit 1 when a
                   step failed or is left to you.
  demo [--messages N] [--chats N] [--seed N]
                   Run the whole loop on simulated Evolution and Chatwoot with an embedded
                   SQLite ledger, while Chatwoot misbehaves, and verify the result.
  help             Show this text.

Settings (environment variables):
${settings}
`;
}
