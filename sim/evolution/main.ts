/**
 * Run the fake Evolution API on its own:
 *   node dist/sim/evolution/main.js --port 8080 --seed 7 --instances a,b [--lid 2.3.7] [--api-key K]
 * Prints one JSON line ({url, apiKey, instances: {name: {token, instanceId}}}) and runs until
 * SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util';
import { createEvolutionSim } from './sim.js';
import type { LidConvention } from './types.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    seed: { type: 'string', default: '1' },
    instances: { type: 'string', default: 'inst1' },
    lid: { type: 'string', default: '2.3.6' },
    'api-key': { type: 'string' },
    'server-url': { type: 'string' },
  },
});

const conventions: LidConvention[] = ['2.3.4', '2.3.6', '2.3.7'];
const lid = values.lid as LidConvention;
if (!conventions.includes(lid)) {
  process.stderr.write(`--lid must be one of ${conventions.join(', ')}\n`);
  process.exit(2);
}
const names = values.instances.split(',').map((s) => s.trim()).filter(Boolean);

const sim = await createEvolutionSim({
  port: Number(values.port),
  host: values.host,
  seed: Number(values.seed),
  instances: names,
  lidConvention: lid,
  apiKey: values['api-key'],
  serverUrl: values['server-url'],
});

const instances = Object.fromEntries(names.map((n) => [n, { token: sim.instanceToken(n), instanceId: sim.instanceId(n) }]));
process.stdout.write(`${JSON.stringify({ url: sim.url, apiKey: sim.apiKey, instances })}\n`);

let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  sim.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
