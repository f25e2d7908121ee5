/**
 * Retry delay for the n-th failed attempt (1-based): exponential from `baseMs`, capped at `maxMs`,
 * with "equal jitter" (half fixed, half random) so a burst of failures does not retry in lockstep
 * while the delay still grows monotonically on average.
 */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, Math.min(attempt - 1, 30)));
  return Math.round(exp / 2 + random() * (exp / 2));
}

/**
 * Chatwoot's Rack::Attack windows are fixed and aligned to the epoch minute, and its 429 carries no
 * Retry-After: the earliest moment a retry can succeed is the next minute boundary. A little jitter
 * keeps several evosync processes from stampeding at :00.
 */
export function nextMinuteBoundaryMs(nowMs: number, jitterMaxMs = 1500, random: () => number = Math.random): number {
  return Math.floor(nowMs / 60_000) * 60_000 + 60_000 + Math.round(random() * jitterMaxMs);
}
