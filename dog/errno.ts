/** strerror() texts for the errors dog reports from files and pipes. */
import { strerror as sharedStrerror } from '../shared/client.js';

const TEXT: Record<string, string> = {
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  ENOENT: 'No such file or directory',
  EISDIR: 'Is a directory',
  ENOTDIR: 'Not a directory',
  ENOSPC: 'No space left on device',
  EDQUOT: 'Disk quota exceeded',
  EIO: 'Input/output error',
  EROFS: 'Read-only file system',
  EBADF: 'Bad file descriptor',
  EPIPE: 'Broken pipe',
  EFBIG: 'File too large',
  EINVAL: 'Invalid argument',
  EEXIST: 'File exists',
};

export function strerror(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return (code && TEXT[code]) || sharedStrerror(e);
}
