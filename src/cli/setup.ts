import { formatSetup, runSetup, type SetupOptions } from '../setup/index.js';

/**
 * `evosync setup`: points Chatwoot's API inbox and Evolution's instances at evosync (see
 * src/setup/run.ts). Exit 0 when everything is as evosync needs it, 1 when a step failed or is
 * left to the operator; a dry run exits 1 only for failures and things left to do.
 */
export async function setupCommand(env: NodeJS.ProcessEnv, opts: SetupOptions & { json: boolean }, out: (line: string) => void): Promise<number> {
  const { json, ...rest } = opts;
  const report = await runSetup(env, rest);
  if (json) out(JSON.stringify(report));
  else for (const line of formatSetup(report)) out(line);
  return report.ok ? 0 : 1;
}
