import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time of a process, per thread, from /proc (Linux): where a message's cost goes, which wall
 * clock rates on a shared two-core machine cannot show. A process's main thread has its pid as
 * thread id; its other threads are the SQLite writer, the checkpointer and V8's GC helpers.
 */
export interface CpuSample {
  mainMs: number;
  othersMs: number;
}

const TICK_MS = 10; // USER_HZ is 100 on Linux

export function cpuSample(pid: number | undefined): CpuSample | null {
  if (!pid) return null;
  try {
    let mainMs = 0;
    let othersMs = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      let stat: string;
      try {
        stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      } catch {
        continue; // the thread ended between the listing and the read
      }
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ms = (Number(fields[11]) + Number(fields[12])) * TICK_MS;
      if (tid === String(pid)) mainMs += ms;
      else othersMs += ms;
    }
    return { mainMs, othersMs };
  } catch {
    return null;
  }
}

/** Microseconds of CPU per message between two samples: [main thread, other threads]. */
export function cpuPerMessage(a: CpuSample | null, b: CpuSample | null, messages: number): { mainUs: number; othersUs: number } | null {
  if (!a || !b || messages <= 0) return null;
  return { mainUs: ((b.mainMs - a.mainMs) * 1000) / messages, othersUs: ((b.othersMs - a.othersMs) * 1000) / messages };
}

/** The RabbitMQ node's pid on this machine (its Erlang VM), for its share of a message's cost. */
export function brokerPid(): number | undefined {
  try {
    const pids = execFileSync('pgrep', ['-x', 'beam.smp']).toString().trim().split('\n').map(Number);
    return pids.length === 1 ? pids[0] : undefined;
  } catch {
    return undefined;
  }
}

export function formatCpu(c: { mainUs: number; othersUs: number } | null): string {
  return c ? `${Math.round(c.mainUs)} / ${Math.round(c.othersUs)}` : '–';
}
