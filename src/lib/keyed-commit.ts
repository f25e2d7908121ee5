import { type GroupCommitOptions, GroupCommitter } from './group-commit.js';

/** What the users of a group committer call. */
export interface Committer<I, R> {
  submit(item: I): Promise<R>;
  close(): Promise<void>;
  readonly pending: number;
  readonly batches: number;
  readonly items: number;
}

/**
 * Group committers side by side, each item's key choosing its one: batches of different keys
 * commit in parallel, while the items of one key commit one batch after another, in the order they
 * were submitted. A lane's delivery outcomes need that order (several are committing at once within
 * a window, and a crash must leave its delivered messages a prefix of what it sent: a look-up for
 * the first unrecorded one starts after the last recorded one); parallel batches over one
 * committer could let a later outcome land before an earlier one.
 */
export class KeyedGroupCommitter<I, R> implements Committer<I, R> {
  readonly #shards: GroupCommitter<I, R>[];
  readonly #keyOf: (item: I) => string;

  constructor(write: (items: I[]) => Promise<R[]>, opts: Omit<GroupCommitOptions, 'parallel'> & { shards: number }, keyOf: (item: I) => string) {
    const { shards, ...each } = opts;
    this.#shards = Array.from({ length: Math.max(1, shards) }, () => new GroupCommitter(write, each));
    this.#keyOf = keyOf;
  }

  submit(item: I): Promise<R> {
    return (this.#shards[shardOf(this.#keyOf(item), this.#shards.length)] as GroupCommitter<I, R>).submit(item);
  }

  async close(): Promise<void> {
    await Promise.all(this.#shards.map((s) => s.close()));
  }

  get pending(): number {
    return this.#shards.reduce((n, s) => n + s.pending, 0);
  }

  get batches(): number {
    return this.#shards.reduce((n, s) => n + s.batches, 0);
  }

  get items(): number {
    return this.#shards.reduce((n, s) => n + s.items, 0);
  }
}

/** FNV-1a: cheap, and spreads chat JIDs that differ in a few digits. */
function shardOf(key: string, shards: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h >>> 0) % shards;
}
