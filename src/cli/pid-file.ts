/**
 * `--pid <file>`: the process id, written without following a symbolic
 * link (a link planted at that path would otherwise have us truncate
 * whatever it points to), and removed when the process exits.
 */
import { closeSync, constants, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { CliError } from './common.js';

export function writePidFile(path: string): void {
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o644);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw new CliError(`--pid: '${path}' is a symbolic link; refusing to write through it`);
    throw new CliError(`--pid: cannot write '${path}' (${code ?? (err as Error).message})`);
  }
  try {
    writeSync(fd, `${process.pid}\n`);
  } finally {
    closeSync(fd);
  }
  process.once('exit', () => {
    try {
      // only our own: another process may have taken the path over since
      if (readFileSync(path, 'utf8').trim() === String(process.pid)) unlinkSync(path);
    } catch {
      // already gone
    }
  });
}
