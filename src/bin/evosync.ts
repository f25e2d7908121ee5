#!/usr/bin/env node
import { runCli } from '../cli/main.js';
import { ConfigError, coerceError } from '../errors.js';

/**
 * The process edge: the only code that handles signals and sets the exit code. The first
 * SIGTERM/SIGINT starts an orderly shutdown; a second one forces exit at once (the ledger makes
 * that safe: whatever was not finished is redone on the next start, looked up before re-sending).
 */
async function main(): Promise<void> {
  let result;
  try {
    result = await runCli(process.argv.slice(2), process.env);
  } catch (error) {
    const err = coerceError(error);
    process.stderr.write(`${err instanceof ConfigError ? err.message : `evosync: ${err.message}`}\n`);
    process.exitCode = err instanceof ConfigError ? 78 : 1;
    return;
  }
  if (result.kind === 'done') {
    process.exitCode = result.exitCode;
    return;
  }
  const app = result.app;
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      process.stderr.write(`evosync: second ${signal}, exiting now\n`);
      process.exit(130);
    }
    app.stop().then(
      () => {
        process.exitCode = 0;
      },
      (error: unknown) => {
        process.stderr.write(`evosync: shutdown error: ${coerceError(error).message}\n`);
        process.exitCode = 1;
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('unhandledRejection', (reason) => {
    process.stderr.write(`evosync: unhandled rejection: ${coerceError(reason).stack ?? String(reason)}\n`);
  });
}

void main();
