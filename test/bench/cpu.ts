/** CPU accounting of processes for the A/B benches (less disturbed by a loaded machine than wall-clock figures). */
import { readdirSync, readFileSync } from 'node:fs';

/** ns of CPU the processes' threads have run (the first field of schedstat). */
export function cpuNs(pids: Iterable<number>): number {
  let ns = 0;
  for (const pid of pids) {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch { /* the thread ended */ }
    }
  }
  return ns;
}
