/**
 * Shares one in-flight or recent answer of an expensive read for `ttlMs`: scrapers and monitoring
 * polls may ask as often as they like, the ledger is asked at most once per `ttlMs`. A failure is
 * kept just as long, so a database that is down is not hammered by every scrape.
 */
export function cachedFor<T>(ttlMs: number, now: () => number, load: () => Promise<T>): () => Promise<T> {
  let cache: { at: number; value: Promise<T> } | null = null;
  return () => {
    const t = now();
    if (!cache || t - cache.at >= ttlMs) cache = { at: t, value: load() };
    return cache.value;
  };
}
