import { readFileSync } from 'node:fs';

/**
 * A process's start time (field 22 of /proc/PID/stat) and whether it still
 * runs. Drivers record both for a registration: a pid alone can be reused, and
 * a zombie or dead process still answers kill(pid, 0).
 */
export async function procInfo(pid: number): Promise<{ start: string; running: boolean } | undefined> {
  try {
    // read synchronously: /proc answers from memory, and the liveness scan asks
    // this for every member on the machine several times a second (an async
    // read is four thread-pool round trips and cost a sheep 3% of a core idle)
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { start: fields[19]!, running: fields[0] !== 'Z' && fields[0] !== 'X' };
  } catch {
    return undefined;
  }
}
