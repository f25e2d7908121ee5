import type { Config } from '../config/config.js';
import { loadConfig } from '../config/load.js';
import { ConfigError, coerceError } from '../errors.js';
import { type CheckResult, fail, ok } from './types.js';

/**
 * Loads the service configuration as `evosync start` would; every problem becomes one failed
 * check instead of an exception, so the operator sees them all next to the other checks.
 */
export function checkConfig(env: NodeJS.ProcessEnv, readFile?: (path: string) => string): { results: CheckResult[]; config: Config | null } {
  try {
    const config = loadConfig(env, { require: 'service', ...(readFile ? { readFile } : {}) });
    return { results: [ok('config', 'configuration loads')], config };
  } catch (error) {
    if (error instanceof ConfigError) {
      return { results: error.problems.map((p) => fail('config', p, fixForProblem(p))), config: null };
    }
    return { results: [fail('config', coerceError(error).message, 'see `evosync help` for every setting')], config: null };
  }
}

function fixForProblem(problem: string): string {
  if (/unknown setting/.test(problem)) return 'remove or rename it (`evosync help` lists every setting)';
  if (/: required/.test(problem)) return `set ${problem.split(':')[0] ?? 'it'} (README: Connecting a real Evolution API and Chatwoot)`;
  return 'correct the value (`evosync help` describes every setting)';
}
