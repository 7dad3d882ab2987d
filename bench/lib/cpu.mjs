import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** The oldest local process named `name` (the broker serving the benchmark), if there is one. */
export function pidOf(name) {
  try {
    return Number(execFileSync('pgrep', ['-o', name], { encoding: 'utf8' }).trim()) || undefined;
  } catch {
    return undefined;
  }
}

const TICK_US = 10_000; // USER_HZ is 100 on Linux

/** CPU time (user + system, µs) a process has used so far; undefined off Linux or for an unknown pid. */
export function processCpuUs(pid) {
  if (pid === undefined) return undefined;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_US;
  } catch {
    return undefined;
  }
}

/** Starts a CPU meter for this process and, when known, the broker's; `stop(jobs)` gives µs per job. */
export function cpuMeter(brokerPid) {
  const node = process.cpuUsage();
  const broker = processCpuUs(brokerPid);
  return (jobs) => {
    const used = process.cpuUsage(node);
    const brokerNow = processCpuUs(brokerPid);
    return {
      nodeCpu: (used.user + used.system) / jobs,
      ...(broker !== undefined && brokerNow !== undefined ? { brokerCpu: (brokerNow - broker) / jobs } : {}),
    };
  };
}
