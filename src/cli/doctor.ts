import { formatReport, runDoctor } from '../doctor/index.js';

export interface DoctorArgs {
  instance?: string;
  json: boolean;
}

/**
 * `evosync doctor`: checks the setup a newcomer gets wrong (configuration, ledger, Evolution's
 * key, instances, webhook or RabbitMQ, built-in Chatwoot integration, message store, Chatwoot
 * token, inbox, its webhook URL and signing secret)
 * and prints the fix of each problem. Read-only. Exit 0 when no check fails, 1 otherwise.
 */
export async function doctorCommand(env: NodeJS.ProcessEnv, args: DoctorArgs, out: (line: string) => void): Promise<number> {
  const report = await runDoctor(env, args.instance ? { instance: args.instance } : {});
  if (args.json) out(JSON.stringify(report));
  else for (const line of formatReport(report)) out(line);
  return report.ok ? 0 : 1;
}
