/**
 * What an action reports back, by code: the page after a redirect shows a fixed text, so a link
 * can never make the dashboard display words of an attacker's choosing.
 */
export const NOTICES = {
  retried: 'The message is back in its chat\'s lane and will be delivered in order.',
  discarded: 'The message was discarded: it stays in the ledger as skipped, "discarded by operator".',
  not_dead: 'Nothing done: the message is no longer dead (someone else may have acted on it).',
  reconcile_ok: 'Reconcile finished; missing messages were committed and are on their way. See the run below.',
  reconcile_failed: 'Reconcile stopped with an error; what it repaired until then stays repaired. See the run below.',
  reconcile_busy: 'A reconcile run for this instance is already in progress.',
  reconcile_not_configured: 'Reconciliation needs EVOLUTION_URL and EVOLUTION_API_KEY.',
  reconcile_input: 'Choose an instance to reconcile.',
} as const;

export type NoticeCode = keyof typeof NOTICES;
