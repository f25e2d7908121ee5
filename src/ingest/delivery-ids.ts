/**
 * X-Chatwoot-Delivery ids already committed, to answer a redelivered webhook without touching the
 * ledger. Bounded and in memory: the ledger's unique keys are what make duplicates harmless; this
 * only saves the work when Chatwoot (or a proxy) posts the same delivery again soon after.
 */
export class RecentIds {
  readonly #max: number;
  readonly #ids = new Set<string>();

  constructor(max = 20_000) {
    this.#max = max;
  }

  has(id: string): boolean {
    return this.#ids.has(id);
  }

  add(id: string): void {
    this.#ids.add(id);
    if (this.#ids.size > this.#max) {
      const oldest = this.#ids.values().next().value;
      if (oldest !== undefined) this.#ids.delete(oldest);
    }
  }
}
