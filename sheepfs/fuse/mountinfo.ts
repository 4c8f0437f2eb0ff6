/** Reading /proc/self/mountinfo (asynchronously: FUSE requests are answered on this loop). */
import { readFile } from 'node:fs/promises';

function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Is `mnt` a mount point of a fuse file system now? */
export async function isFuseMounted(mnt: string): Promise<boolean> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return text.split('\n').some((line) => {
    const f = line.split(' ');
    const sep = f.indexOf('-');
    return unescapeMountinfo(f[4] ?? '') === mnt && sep > 0 && (f[sep + 1] ?? '').startsWith('fuse');
  });
}

/** Poll until `mnt` is no fuse mount point; false if it still is after timeoutMs. */
export async function waitUnmounted(mnt: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!(await isFuseMounted(mnt).catch(() => true))) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}
