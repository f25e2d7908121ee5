import type { CheckResult } from './types.js';
import type { DoctorReport } from './run.js';

const LABEL = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' } as const;

/** One line per check: status, id, subject, message and, for warnings and failures, the fix. */
export function formatCheck(c: CheckResult, idWidth: number): string {
  const subject = c.subject ? `[${c.subject}] ` : '';
  return `${LABEL[c.status]}  ${c.id.padEnd(idWidth)}  ${subject}${c.message}${c.fix ? ` → fix: ${c.fix}` : ''}`;
}

export function formatReport(r: DoctorReport): string[] {
  const width = Math.max(...r.checks.map((c) => c.id.length));
  const failed = r.checks.filter((c) => c.status === 'fail').length;
  const warned = r.checks.filter((c) => c.status === 'warn').length;
  return [
    ...r.checks.map((c) => formatCheck(c, width)),
    `${failed === 0 ? 'no problems' : `${failed} problem${failed === 1 ? '' : 's'}`}, ${warned} warning${warned === 1 ? '' : 's'}${failed > 0 ? ' (exit 1)' : ''}`,
  ];
}
