import { parseArgs } from 'node:util';
import type { Evosync } from '../app.js';
import { helpText } from './help.js';
import { migrateCommand } from './migrate.js';
import { startCommand } from './start.js';
import { statusCommand } from './status.js';

export type CliResult = { kind: 'done'; exitCode: number } | { kind: 'running'; app: Evosync };

/**
 * Command dispatch. It never touches signals or exits the process (that is `bin/`'s job), so every
 * command can be run from tests as a function.
 */
export async function runCli(argv: string[], env: NodeJS.ProcessEnv, out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<CliResult> {
  const [command = 'help', ...rest] = argv;
  switch (command) {
    case 'start':
      parseArgs({ args: rest, options: {}, strict: true });
      return { kind: 'running', app: await startCommand(env) };
    case 'migrate':
      parseArgs({ args: rest, options: {}, strict: true });
      await migrateCommand(env, out);
      return { kind: 'done', exitCode: 0 };
    case 'status': {
      const { values } = parseArgs({ args: rest, options: { json: { type: 'boolean' } }, strict: true });
      await statusCommand(env, values.json ?? false, out);
      return { kind: 'done', exitCode: 0 };
    }
    case 'demo': {
      const { values } = parseArgs({
        args: rest,
        options: { messages: { type: 'string' }, chats: { type: 'string' }, seed: { type: 'string' }, quiet: { type: 'boolean' } },
        strict: true,
      });
      const { demoCommand } = await import('./demo.js');
      const ok = await demoCommand({
        messages: Number(values.messages ?? 3000),
        chats: Number(values.chats ?? 40),
        seed: Number(values.seed ?? 7),
        quiet: values.quiet ?? false,
        out,
      });
      return { kind: 'done', exitCode: ok ? 0 : 1 };
    }
    case 'help':
    case '--help':
    case '-h':
      out(helpText());
      return { kind: 'done', exitCode: 0 };
    default:
      out(`unknown command: ${command}\n`);
      out(helpText());
      return { kind: 'done', exitCode: 2 };
  }
}
