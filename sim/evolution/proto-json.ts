/**
 * How protobuf values look once Evolution has serialised them. Evolution runs every Baileys message
 * through deserializeMessageBuffers() before emitting or storing it, which turns Buffers into
 * Uint8Arrays and Long instances into plain objects; JSON.stringify then writes a Uint8Array as an
 * index-keyed object and a Long as {low, high, unsigned}. Consumers of the real API see exactly
 * these shapes (e.g. fileLength {low, high, unsigned}), so the fake produces them too.
 */
import { createHash } from 'node:crypto';

export interface LongJson {
  low: number;
  high: number;
  unsigned: boolean;
}

/** A 64-bit integer as a deserialised Long (values here always fit in 53 bits). */
export function longJson(value: number, unsigned = false): LongJson {
  const low = value % 0x1_0000_0000;
  const high = Math.floor(value / 0x1_0000_0000);
  return { low: low > 0x7fff_ffff ? low - 0x1_0000_0000 : low, high, unsigned };
}

/** Bytes as JSON.stringify(new Uint8Array(...)) writes them: {"0":12,"1":34,...}. */
export function bytesJson(bytes: Uint8Array): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < bytes.length; i++) out[String(i)] = bytes[i] ?? 0;
  return out;
}

/** Deterministic pseudo-random bytes derived from a label (sha256 chained), for hashes and keys. */
export function derivedBytes(label: string, length: number): Buffer {
  const chunks: Buffer[] = [];
  let produced = 0;
  let counter = 0;
  while (produced < length) {
    const chunk = createHash('sha256').update(`${label}#${counter++}`).digest();
    chunks.push(chunk);
    produced += chunk.length;
  }
  return Buffer.concat(chunks).subarray(0, length);
}

/**
 * Key order of a Postgres jsonb value: shorter keys first, then bytewise. Evolution's Json columns
 * are jsonb, so findMessages returns key/message/contextInfo re-ordered this way, unlike the
 * Baileys order the live events carry.
 */
export function jsonbOrder(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(jsonbOrder);
  if (value === null || typeof value !== 'object') return value;
  const keys = Object.keys(value as Record<string, unknown>).sort((a, b) =>
    a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0,
  );
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    const v = (value as Record<string, unknown>)[k];
    // jsonb cannot hold undefined: the key simply does not exist.
    if (v !== undefined) out[k] = jsonbOrder(v);
  }
  return out;
}

/** A JSON-safe deep copy (what a row looks like after a round-trip through a Json column). */
export function jsonClone<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}
