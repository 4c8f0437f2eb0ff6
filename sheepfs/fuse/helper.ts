/**
 * The unmount helper: a shell started before /dev/fuse is opened (so it holds
 * no descriptor of the mount and the mounted process never has to spawn). A
 * line on its stdin makes it run its unmount command; what it does when
 * sheepfs dies (end of file on stdin) is the script's choice.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface UnmountHelper {
  /** run the unmount command now */
  unmount(): void;
  /** end the helper without unmounting (the mount never happened) */
  cancel(): void;
}

/** `script` gets the mount point as $0. */
export function startUnmountHelper(script: string, mnt: string): UnmountHelper {
  const child: ChildProcess = spawn('/bin/sh', ['-c', script, mnt], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true, // Ctrl-C on our terminal must not kill it before it did its job
  });
  child.on('error', () => { /* reported when unmount() finds the mount still there */ });
  child.stdin!.on('error', () => {});
  child.unref();
  (child.stdin as unknown as { unref?: () => void }).unref?.();
  return {
    unmount: () => { child.stdin!.end('unmount\n'); },
    cancel: () => {
      try { child.kill('SIGKILL'); } catch { /* gone */ }
      child.stdin!.destroy();
    },
  };
}
