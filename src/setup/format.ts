import type { SetupReport, StepStatus } from './types.js';

const LABEL: Record<StepStatus, string> = { unchanged: 'unchanged', changed: 'changed', planned: 'planned', skipped: 'skipped', todo: 'TODO', failed: 'FAILED' };

/** One line per step (status, id, subject, message, what to do next), a summary, then the settings to add. */
export function formatSetup(r: SetupReport): string[] {
  const width = Math.max(...r.steps.map((s) => s.id.length));
  const lines = r.steps.map((s) => `${LABEL[s.status].padEnd(9)}  ${s.id.padEnd(width)}  ${s.subject ? `[${s.subject}] ` : ''}${s.message}${s.next ? ` → ${s.next}` : ''}`);
  const count = (st: StepStatus) => r.steps.filter((s) => s.status === st).length;
  const parts = (['changed', 'planned', 'unchanged', 'skipped', 'todo', 'failed'] as const).filter((st) => count(st) > 0).map((st) => `${count(st)} ${st === 'todo' ? 'to do' : st}`);
  lines.push(`${r.dryRun ? 'dry run, nothing changed: ' : ''}${parts.join(', ')}${r.ok ? '' : ' (exit 1)'}`);
  if (r.settings.length > 0) lines.push("Add to evosync's environment:", ...r.settings.map((s) => `  ${s}`));
  if (r.ok && !r.dryRun) lines.push('Then start evosync (evosync start) and check the whole setup with evosync doctor.');
  return lines;
}
