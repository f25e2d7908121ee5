/**
 * The chaos run, small: the same scenario module as `npm run chaos` (chaos/scenario.ts) at a
 * tenth of the size — 2,000 messages over 200 chats, 200 agent replies, a 10-second Chatwoot
 * outage — with every fault of the full run: three SIGKILLs of the built evosync, broker
 * connections force-closed and the broker restarted (a private RabbitMQ node), 10% 5xx, 5%
 * timeouts after commit, 429 bursts, 3% of events never published and 5% published twice,
 * receipts before their messages. Missing, duplicated, out of order and dead must all be 0, both
 * ways. Needs a local RabbitMQ installation and root (private node): skips loudly otherwise,
 * fails under EVOSYNC_REQUIRE_SERVICES=1.
 */
import { afterAll, expect, it } from 'vitest';
import { SMALL_PRESET } from '../../chaos/presets.js';
import { failures, runChaos } from '../../chaos/scenario.js';
import { resultsTable } from '../../chaos/table.js';
import { type PrivateBroker, startPrivateBroker } from '../helpers/private-broker.js';
import { tempSqliteUrl } from '../helpers/services.js';

let broker: PrivateBroker | null = null;
afterAll(async () => {
  await broker?.stop();
}, 60_000);

it('chaos run (small): nothing lost, doubled, reordered or dead in either direction', { timeout: 240_000 }, async (ctx) => {
  broker = await startPrivateBroker();
  if (!broker) return ctx.skip();
  const lines: string[] = [];
  const result = await runChaos({ ...SMALL_PRESET, databaseUrl: tempSqliteUrl(), broker, log: (l) => lines.push(l) });
  const table = resultsTable([{ title: 'evosync', toChatwoot: result.toChatwoot, toWhatsapp: result.toWhatsapp }]);
  const bad = failures(result);
  if (bad.length > 0 || process.env['EVOSYNC_CHAOS_VERBOSE']) console.info([...lines, table, ...result.diagnostics].join('\n'));
  expect(bad).toEqual([]);
  // The faults really happened, or the zeros prove nothing.
  expect(result.faults).toMatchObject({ kills: SMALL_PRESET.kills, connectionsClosed: 1, brokerRestarts: 1, bursts: 3 });
  expect(result.chatwoot.errors5xx).toBeGreaterThan(0);
  expect(result.faults.neverPublished).toBeGreaterThan(0);
  expect(result.faults.publishedTwice).toBeGreaterThan(0);
  expect(result.toChatwoot.expected).toBe(SMALL_PRESET.messages);
  expect(result.toWhatsapp.expected).toBe(SMALL_PRESET.replies);
});
