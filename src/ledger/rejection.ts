/**
 * Whether the ledger refused a write for the data in it — a value its column cannot hold, a
 * constraint — rather than for its own state (locked, busy, full, down, a deadlock). The first
 * kind fails again on every retry, whatever the wait; the second passes once the ledger recovers.
 *
 * Only codes the database itself reports count: an error thrown by evosync's own code while it
 * builds a write may be a defect, and a defect must hold the input (and be seen) rather than
 * refuse every message that meets it.
 */
export function isDataRejection(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return false;
  // PostgreSQL SQLSTATE: 22 data exception, 23 integrity constraint, 54000 program limit (an index
  // row or value too large).
  if (/^2[23][0-9A-Z]{3}$/.test(code) || code === '54000') return true;
  // SQLite primary and extended result codes (better-sqlite3 names them).
  return /^SQLITE_(CONSTRAINT|MISMATCH|TOOBIG|RANGE)(_|$)/.test(code);
}
