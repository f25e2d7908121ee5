/**
 * `npm run chaos`: the reliability proof in one command. Runs the chaos scenario against evosync,
 * then the same traffic and faults against a direct relay (baseline.ts), prints one table, and
 * exits 1 if any of evosync's missing / duplicated / out-of-order / dead figures is not zero.
 *
 *   npm run chaos -- [--small] [--seed N] [--messages N] [--replies N] [--backend sqlite|postgres] [--no-baseline]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { runBaseline } from './baseline.js';
import { DEFAULT_PRESET, SMALL_PRESET } from './presets.js';
import { privateBrokerProblem, startPrivateBroker } from './private-broker.js';
import { failures, runChaos } from './scenario.js';
import { type Column, faultSummary, resultsTable } from './table.js';

const PG_URL = process.env['EVOSYNC_CHAOS_PG_URL'] ?? process.env['EVOSYNC_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

async function freshPostgres(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `evosync_chaos_${Date.now()}`;
  const admin = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 5000 });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const u = new URL(PG_URL);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    strict: true,
    options: {
      seed: { type: 'string' }, messages: { type: 'string' }, replies: { type: 'string' }, chats: { type: 'string' },
      backend: { type: 'string', default: 'sqlite' }, small: { type: 'boolean', default: false }, 'no-baseline': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log('npm run chaos -- [--small] [--seed N] [--messages N] [--replies N] [--chats N] [--backend sqlite|postgres] [--no-baseline]');
    return 0;
  }
  const preset = values.small ? SMALL_PRESET : DEFAULT_PRESET;
  const num = (v: string | undefined, fallback: number, name: string) => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer`);
    return n;
  };
  const plan = {
    ...preset,
    seed: num(values.seed, preset.seed, 'seed'),
    messages: num(values.messages, preset.messages, 'messages'),
    replies: num(values.replies, preset.replies, 'replies'),
    chats: num(values.chats, preset.chats, 'chats'),
  };
  const backend = values.backend;
  if (backend !== 'sqlite' && backend !== 'postgres') throw new Error('--backend must be sqlite or postgres');
  const problem = privateBrokerProblem();
  if (problem) {
    console.error(`chaos run needs a private RabbitMQ node (it restarts the broker): ${problem}`);
    return 1;
  }
  const log = (line: string) => console.error(line);
  const title = `seed ${plan.seed}, ${plan.messages.toLocaleString('en-US')} messages over ${plan.chats} chats, ${plan.replies.toLocaleString('en-US')} agent replies, ${backend}, outage ${plan.outageMs / 1000} s`;
  console.error(`chaos run: ${title}`);

  const broker = await startPrivateBroker();
  const dir = mkdtempSync(join(tmpdir(), 'evosync-chaos-'));
  const db = backend === 'postgres' ? await freshPostgres() : { url: `sqlite:${join(dir, 'ledger.db')}`, drop: async () => undefined };
  let result;
  try {
    result = await runChaos({ ...plan, databaseUrl: db.url, broker, log });
  } finally {
    await db.drop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    await broker.stop();
  }
  const columns: Column[] = [{ title: 'evosync', toChatwoot: result.toChatwoot, toWhatsapp: result.toWhatsapp }];
  let baselineNote = '';
  if (!values['no-baseline']) {
    console.error('baseline: the same traffic and faults through a direct relay');
    const b = await runBaseline({ ...plan, log });
    columns.push({ title: 'baseline', toChatwoot: b.toChatwoot, toWhatsapp: b.toWhatsapp });
    baselineNote = `\nbaseline: ${b.repliesWhileDown} agent replies written while it was down, ${b.lostInFlight} events in flight when it was killed, ${b.postFailures} Chatwoot writes failed and were not retried, ${b.sendFailures} sends to WhatsApp failed`;
  }

  const bad = failures(result);
  console.log(`\n## Chaos run — ${title}\n`);
  console.log(resultsTable(columns));
  console.log(`\nFaults injected (measured in the evosync run):\n${faultSummary(result.faults, result.chatwoot)}`);
  console.log(`WhatsApp messages reached evosync's ledger by: ${Object.entries(result.bySource).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  console.log(`Reconcile runs recorded (a run cut short by a SIGKILL is not): ${result.repaired.runs}, repairing ${result.repaired.messages} messages and ${result.repaired.agentReplies} agent replies${baselineNote}`);
  console.log(`Run time (evosync part): ${(result.runMs / 1000).toFixed(0)} s`);
  if (bad.length > 0) {
    console.log(`\nFAILED: ${bad.join('; ')}`);
    for (const d of result.diagnostics) console.log(d);
    if (result.toChatwoot.missingIds.length) console.log(`missing to Chatwoot (first ids): ${result.toChatwoot.missingIds.join(', ')}`);
    if (result.toWhatsapp.missingIds.length) console.log(`missing to WhatsApp (first keys): ${result.toWhatsapp.missingIds.join(', ')}`);
    return 1;
  }
  console.log('\nOK: nothing lost, nothing doubled, nothing out of order, nothing dead.');
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);
