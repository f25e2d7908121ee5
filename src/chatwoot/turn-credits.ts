/**
 * Rate-limit turns already taken, waiting to be used by the next request they cover. A lane takes
 * its Chatwoot turn before it commits to a head (see the dispatcher's pace) and deposits it here;
 * the next request counted against the same rule uses it instead of waiting for another. Any
 * request may use any lane's turn: the limiter counted every turn once when it was taken, and each
 * request uses at most one turn per rule, so requests never outnumber turns.
 *
 * A turn is used only while fresh: Chatwoot counts a request when it arrives, and a turn kept
 * longer than the limiter's window margin could land in the next window uncounted.
 */
export class TurnCredits {
  readonly #freshMs: number;
  readonly #taken = new Map<string, number[]>();

  constructor(freshMs: number) {
    this.#freshMs = freshMs;
  }

  deposit(key: string, takenAt: number): void {
    const list = this.#taken.get(key);
    if (list) list.push(takenAt);
    else this.#taken.set(key, [takenAt]);
  }

  /** Uses one fresh turn of this rule if there is one (stale ones are dropped on the way). */
  take(key: string, now: number): boolean {
    const list = this.#taken.get(key);
    if (!list) return false;
    while (list.length > 0) {
      const at = list.shift() as number;
      if (now - at <= this.#freshMs) {
        if (list.length === 0) this.#taken.delete(key);
        return true;
      }
    }
    this.#taken.delete(key);
    return false;
  }
}
