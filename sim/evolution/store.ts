/**
 * The Message and MessageUpdate tables. Evolution has no index on key->>'id' and no uniqueness,
 * so duplicate rows per WhatsApp id are allowed here too; the sim itself indexes by instance and by
 * key.id (lists, not single rows) so that benchmarks with tens of thousands of rows stay fast.
 */
import type { StoredMessage } from './types.js';

export interface Row {
  msg: StoredMessage;
  /** Instance.id of the owning instance. */
  instanceId: string;
  /** The event omits contextInfo (content type without that field); the column holds null. */
  omitContextInfo: boolean;
  /** MessageUpdate rows pointing at this message, oldest first. */
  updates: { status: string }[];
  /** Insertion sequence: the tie-break for equal timestamps. */
  seq: number;
  /** Created through a send endpoint. */
  sent: boolean;
}

interface Table {
  rows: Row[];
  byKeyId: Map<string, Row[]>;
  /** Rows by messageTimestamp desc (ties: newest insert first), rebuilt lazily. */
  sorted: Row[] | null;
}

export class MessageStore {
  private readonly tables = new Map<string, Table>();
  private readonly byRowId = new Map<string, Row>();
  private seq = 0;

  private table(instance: string): Table {
    let t = this.tables.get(instance);
    if (!t) {
      t = { rows: [], byKeyId: new Map(), sorted: null };
      this.tables.set(instance, t);
    }
    return t;
  }

  insert(msg: StoredMessage, instanceId: string, opts: { omitContextInfo: boolean; sent?: boolean }): Row {
    const row: Row = {
      msg,
      instanceId,
      omitContextInfo: opts.omitContextInfo,
      updates: [],
      seq: this.seq++,
      sent: opts.sent ?? false,
    };
    const t = this.table(msg.instance);
    t.rows.push(row);
    const list = t.byKeyId.get(msg.key.id);
    if (list) list.push(row);
    else t.byKeyId.set(msg.key.id, [row]);
    t.sorted = null;
    this.byRowId.set(msg.id, row);
    return row;
  }

  /** Physical delete (DATABASE_DELETE_MESSAGE=false). */
  remove(row: Row): void {
    const t = this.table(row.msg.instance);
    t.rows = t.rows.filter((r) => r !== row);
    const list = t.byKeyId.get(row.msg.key.id)?.filter((r) => r !== row) ?? [];
    if (list.length > 0) t.byKeyId.set(row.msg.key.id, list);
    else t.byKeyId.delete(row.msg.key.id);
    t.sorted = null;
    this.byRowId.delete(row.msg.id);
  }

  /** A row changed its timestamp (edits): the sort order must be rebuilt. */
  touch(instance: string): void {
    this.table(instance).sorted = null;
  }

  rowById(id: string): Row | undefined {
    return this.byRowId.get(id);
  }

  /** getMessage(): `WHERE instanceId = ? AND key->>'id' = ?`, first match. */
  byKeyId(instance: string, keyId: string): Row | undefined {
    return this.tables.get(instance)?.byKeyId.get(keyId)?.[0];
  }

  /** `findFirst({ where: { key: { path: ['id'], equals } } })` with no instance filter (delete/edit code paths). */
  byKeyIdAnyInstance(keyId: string): Row | undefined {
    for (const t of this.tables.values()) {
      const hit = t.byKeyId.get(keyId)?.[0];
      if (hit) return hit;
    }
    return undefined;
  }

  rows(instance?: string): Row[] {
    if (instance !== undefined) return this.tables.get(instance)?.rows ?? [];
    const all: Row[] = [];
    for (const t of this.tables.values()) all.push(...t.rows);
    return all.sort((a, b) => a.seq - b.seq);
  }

  /** ORDER BY messageTimestamp DESC, as findMessages always sorts. */
  sortedDesc(instance: string): Row[] {
    const t = this.tables.get(instance);
    if (!t) return [];
    if (!t.sorted) {
      t.sorted = [...t.rows].sort((a, b) => b.msg.messageTimestamp - a.msg.messageTimestamp || b.seq - a.seq);
    }
    return t.sorted;
  }

  count(instance: string): number {
    return this.tables.get(instance)?.rows.length ?? 0;
  }
}
