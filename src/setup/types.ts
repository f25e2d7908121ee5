/**
 * One line of `evosync setup`:
 * - `unchanged`: already as evosync needs it; nothing was sent.
 * - `changed`: setup changed it (created, updated, turned off) and read it back.
 * - `planned`: `--dry-run`: what setup would change.
 * - `skipped`: cannot be done or checked through the API (e.g. Evolution's environment).
 * - `todo`: wrong, and left to the operator (a setting to change, or a flag to opt in with).
 * - `failed`: could not be done (unreachable, refused, not read back as written).
 */
export type StepStatus = 'unchanged' | 'changed' | 'planned' | 'skipped' | 'todo' | 'failed';

export type StepId =
  | 'chatwoot.inbox'
  | 'chatwoot.webhook'
  | 'chatwoot.secret'
  | 'evolution.api'
  | 'evolution.instance'
  | 'evolution.events'
  | 'evolution.chatwoot-integration';

export interface SetupStep {
  id: StepId;
  status: StepStatus;
  /** An instance, or a Chatwoot target. */
  subject?: string;
  message: string;
  /** What the operator does next, for `todo` and `failed` (and advice such as the new inbox id). */
  next?: string;
}

export interface SetupReport {
  /** Nothing failed and nothing is left to the operator. */
  ok: boolean;
  dryRun: boolean;
  steps: SetupStep[];
  /** Settings to put in evosync's environment, in order (e.g. CHATWOOT_INBOX_ID=3). */
  settings: string[];
}

export const step = (id: StepId, status: StepStatus, message: string, extra: { subject?: string; next?: string } = {}): SetupStep => ({
  id,
  status,
  ...(extra.subject ? { subject: extra.subject } : {}),
  message,
  ...(extra.next ? { next: extra.next } : {}),
});
