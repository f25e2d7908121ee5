import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import pg from 'pg';
import { connect } from '../../src/ledger/connect.js';
import { SqlLedger, migrateLedger } from '../../src/ledger/sql-ledger.js';

/**
 * Real services for integration tests. On a newcomer's machine a missing service skips its tests
 * loudly; CI sets EVOSYNC_REQUIRE_SERVICES=1, which turns the skip into a failure so a broken
 * service can never turn a red run green.
 */
export const PG_URL = process.env['EVOSYNC_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
export const AMQP_URL = process.env['EVOSYNC_TEST_AMQP_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672';
const REQUIRE = process.env['EVOSYNC_REQUIRE_SERVICES'] === '1';

async function pgReachable(): Promise<string | null> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('select 1');
    return null;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Returns true when PostgreSQL can be used; false (with a loud warning) when the tests must skip. */
export async function postgresAvailable(): Promise<boolean> {
  const problem = await pgReachable();
  if (problem === null) return true;
  if (REQUIRE) throw new Error(`PostgreSQL is required (EVOSYNC_REQUIRE_SERVICES=1) but unreachable at ${PG_URL}: ${problem}`);
  console.warn(`\n*** SKIPPING PostgreSQL tests: ${PG_URL} unreachable (${problem}). Set EVOSYNC_TEST_PG_URL. ***\n`);
  return false;
}

async function amqpReachable(): Promise<string | null> {
  try {
    const conn = await amqp.connect(AMQP_URL, { timeout: 3000 });
    await conn.close();
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

/** Returns true when RabbitMQ can be used; false (with a loud warning) when the tests must skip. */
export async function amqpAvailable(): Promise<boolean> {
  const problem = await amqpReachable();
  if (problem === null) return true;
  if (REQUIRE) throw new Error(`RabbitMQ is required (EVOSYNC_REQUIRE_SERVICES=1) but unreachable at ${AMQP_URL}: ${problem}`);
  console.warn(`\n*** SKIPPING RabbitMQ tests: ${AMQP_URL} unreachable (${problem}). Set EVOSYNC_TEST_AMQP_URL. ***\n`);
  return false;
}

/** A fresh, empty database for one test file; dropped by the returned cleanup. */
export async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `evosync_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

/** A migrated ledger on a PostgreSQL database of its own; `close` closes it and drops the database. */
export async function openPgTestLedger(): Promise<{ ledger: SqlLedger; url: string; close: () => Promise<void> }> {
  const db = await createTestDatabase();
  const conn = await connect(db.url);
  await migrateLedger(conn);
  const ledger = new SqlLedger(conn);
  const close = async () => {
    await ledger.close();
    await db.drop();
  };
  return { ledger, url: db.url, close };
}

export function tempSqliteUrl(): string {
  const dir = mkdtempSync(join(tmpdir(), 'evosync-'));
  return `sqlite:${join(dir, 'ledger.db')}`;
}

export const REDIS_URL = process.env['EVOSYNC_TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

async function redisReachable(): Promise<string | null> {
  const { Redis } = await import('ioredis');
  const client = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
    return null;
  } catch (error) {
    return (error as Error).message;
  } finally {
    client.disconnect();
  }
}

/** Returns true when Redis can be used; false (with a loud warning) when the tests must skip. */
export async function redisAvailable(): Promise<boolean> {
  const problem = await redisReachable();
  if (problem === null) return true;
  if (REQUIRE) throw new Error(`Redis is required (EVOSYNC_REQUIRE_SERVICES=1) but unreachable at ${REDIS_URL}: ${problem}`);
  console.warn(`\n*** SKIPPING Redis tests: ${REDIS_URL} unreachable (${problem}). Set EVOSYNC_TEST_REDIS_URL. ***\n`);
  return false;
}
