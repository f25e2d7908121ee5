import { parseArgs } from 'node:util';
import type { Evosync } from '../app.js';
import { helpText } from './help.js';
import { migrateCommand } from './migrate.js';
import { ReconcileError } from '../reconcile/errors.js';
import { ConfigError, coerceError } from '../errors.js';
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
    case 'reconcile':
    case 'check': {
      const { values } = parseArgs({ args: rest, options: { instance: { type: 'string' }, since: { type: 'string' }, chat: { type: 'string' }, json: { type: 'boolean' } }, strict: true });
      if (!values.instance || !values.since) {
        out(`evosync ${command}: --instance and --since are required, e.g. evosync ${command} --instance support --since 2h`);
        return { kind: 'done', exitCode: 2 };
      }
      const args = { instance: values.instance, since: values.since, ...(values.chat ? { chat: values.chat } : {}), json: values.json ?? false };
      try {
        const exitCode = command === 'check'
          ? await (await import('./check.js')).checkCommand(env, args, out)
          : await (await import('./reconcile.js')).reconcileCommand(env, args, out);
        return { kind: 'done', exitCode };
      } catch (error) {
        // Exit 2, never 1: for `check`, 1 means "drift found".
        if (error instanceof ReconcileError) {
          out(`evosync ${command}: ${error.code}: ${error.message}`);
          return { kind: 'done', exitCode: 2 };
        }
        if (command === 'check' && !(error instanceof ConfigError)) {
          out(`evosync check: ${coerceError(error).message}`);
          return { kind: 'done', exitCode: 2 };
        }
        throw error;
      }
    }
    case 'trace': {
      const { values, positionals } = parseArgs({ args: rest, options: { json: { type: 'boolean' } }, allowPositionals: true, strict: true });
      const [id, ...extra] = positionals;
      if (!id || extra.length > 0) {
        out('evosync trace: give one WhatsApp message id or Chatwoot message id, e.g. evosync trace 3EB0C431C26A1916C6A2');
        return { kind: 'done', exitCode: 2 };
      }
      const { traceCommand } = await import('./trace.js');
      return { kind: 'done', exitCode: await traceCommand(env, id, values.json ?? false, out) };
    }
    case 'doctor': {
      const { values } = parseArgs({ args: rest, options: { instance: { type: 'string' }, json: { type: 'boolean' } }, strict: true });
      const { doctorCommand } = await import('./doctor.js');
      const exitCode = await doctorCommand(env, { ...(values.instance ? { instance: values.instance } : {}), json: values.json ?? false }, out);
      return { kind: 'done', exitCode };
    }
    case 'setup': {
      const { values } = parseArgs({
        args: rest,
        options: { 'dry-run': { type: 'boolean' }, 'disable-builtin-chatwoot': { type: 'boolean' }, instance: { type: 'string' }, 'inbox-name': { type: 'string' }, json: { type: 'boolean' } },
        strict: true,
      });
      const { setupCommand } = await import('./setup.js');
      const exitCode = await setupCommand(
        env,
        {
          dryRun: values['dry-run'] ?? false,
          disableBuiltinChatwoot: values['disable-builtin-chatwoot'] ?? false,
          ...(values.instance ? { instance: values.instance } : {}),
          ...(values['inbox-name'] ? { inboxName: values['inbox-name'] } : {}),
          json: values.json ?? false,
        },
        out,
      );
      return { kind: 'done', exitCode };
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
