import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './evosync-child.js';

const run = promisify(execFile);
const SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server';

export interface PrivateBroker {
  url: string;
  node: string;
  /** rabbitmqctl against this node only. */
  ctl(...args: string[]): Promise<string>;
  stop(): Promise<void>;
}

/** Why a private node cannot be started here, or null when it can. */
export function privateBrokerProblem(): string | null {
  if (!existsSync(SERVER)) return `${SERVER} not installed`;
  if (process.getuid?.() !== 0) return 'not running as root';
  return null;
}

/**
 * A RabbitMQ node of the caller's own (same installation, own name, port and data directory).
 * The chaos run closes every connection and restarts the broker; doing that to the shared broker
 * would break every test and benchmark using it at the same time. Needs a local RabbitMQ
 * installation and root (to run it as the rabbitmq user): check privateBrokerProblem() first.
 */
export async function startPrivateBroker(prefix = 'evosync-chaos'): Promise<PrivateBroker> {
  const problem = privateBrokerProblem();
  if (problem) throw new Error(`cannot start a private RabbitMQ node: ${problem}`);
  const node = `${prefix}-${randomBytes(4).toString('hex')}@localhost`;
  const [port, distPort] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'evosync-rmq-'));
  writeFileSync(join(dir, 'rabbitmq.conf'), `listeners.tcp.local = 127.0.0.1:${port}\n`);
  await run('chown', ['-R', 'rabbitmq', dir]);
  const env = [
    'HOME=/var/lib/rabbitmq', `RABBITMQ_NODENAME=${node}`, `RABBITMQ_CONFIG_FILE=${dir}/rabbitmq.conf`, `RABBITMQ_MNESIA_BASE=${dir}/mnesia`,
    `RABBITMQ_LOG_BASE=${dir}/log`, `RABBITMQ_PID_FILE=${dir}/pid`, `RABBITMQ_DIST_PORT=${distPort}`, `RABBITMQ_ENABLED_PLUGINS_FILE=${dir}/plugins`,
  ].join(' ');
  await new Promise<void>((res, rej) => {
    const p = spawn('su', ['rabbitmq', '-s', '/bin/sh', '-c', `cd /var/lib/rabbitmq && ${env} ${SERVER} -detached`], { stdio: 'ignore' });
    p.on('exit', (code) => (code === 0 ? res() : rej(new Error(`rabbitmq-server exited with ${code}`))));
  });
  const ctl = async (...args: string[]) => (await run('rabbitmqctl', ['-n', node, ...args], { timeout: 60_000 })).stdout;
  const stop = async () => {
    await ctl('stop').catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  // -detached returns before the node registers with epmd, and await_startup fails until it has.
  for (const deadline = Date.now() + 60_000; ; await new Promise((r) => setTimeout(r, 250))) {
    try {
      await ctl('await_startup', '--timeout', '60');
      break;
    } catch (error) {
      if (Date.now() > deadline) {
        await stop();
        throw error;
      }
    }
  }
  return { url: `amqp://guest:guest@127.0.0.1:${port}`, node, ctl, stop };
}
