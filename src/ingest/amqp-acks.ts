/**
 * Which deliveries of one channel may be acknowledged, in one `basic.ack(multiple=true)`.
 *
 * Deliveries are processed concurrently and their commits finish out of order, but an ack with
 * `allUpTo` covers every unacked tag at or below it. So the ack may only reach the end of the
 * leading run of settled deliveries: one still committing holds back everything after it. This is
 * safe because evosync runs one consumer per channel, so every unacked tag of the channel is here.
 */
export class AckWindow<T> {
  #items: { tag: number; value: T; settled: boolean }[] = [];
  #byTag = new Map<number, { tag: number; value: T; settled: boolean }>();
  #head = 0;

  track(tag: number, value: T): void {
    const item = { tag, value, settled: false };
    this.#items.push(item);
    this.#byTag.set(tag, item);
  }

  /** The delivery is done with: committed (ack), or already answered on its own (nack). */
  settle(tag: number): void {
    const item = this.#byTag.get(tag);
    if (item) item.settled = true;
  }

  /**
   * Advances past the leading settled run and returns its last value (to ack with allUpTo) and how
   * many deliveries that ack covers; null when the oldest delivery is still in progress.
   */
  takeAckable(): { value: T; count: number } | null {
    let last: T | null = null;
    let count = 0;
    while (this.#head < this.#items.length) {
      const item = this.#items[this.#head];
      if (!item?.settled) break;
      this.#byTag.delete(item.tag);
      last = item.value;
      count += 1;
      this.#head += 1;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return count > 0 ? { value: last as T, count } : null;
  }

  /** Deliveries received and not yet acknowledged. */
  get outstanding(): number {
    return this.#items.length - this.#head;
  }
}
