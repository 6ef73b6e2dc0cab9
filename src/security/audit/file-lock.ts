/**
 * One gateway per audit log file: two gateways started in one folder would
 * otherwise both append to ./logs/audit.log, interleaving their records under
 * one name. The file `<auditLogFile>.lock` holds the owner's pid; a lock whose
 * process is gone is stale and taken over; the lock is removed on close.
 */
import { mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class AuditFileInUse extends Error {
  override name = 'AuditFileInUse';
}

/** Take the lock of an audit file; resolves with its release, rejects naming the process that holds it. */
export async function lockAuditFile(path: string): Promise<() => Promise<void>> {
  const lock = `${resolve(path)}.lock`;
  await mkdir(dirname(lock), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(lock, `${process.pid}\n`, { flag: 'wx', mode: 0o640 });
      return async () => {
        await unlink(lock).catch(() => undefined);
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const pid = Number((await readFile(lock, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
      throw new AuditFileInUse(`it is in use by process ${pid} (${lock}): another gateway writes this audit log; give each gateway its own auditLogFile`);
    }
    await unlink(lock).catch(() => undefined); // stale (or ours from an earlier run in this process)
  }
  throw new Error(`cannot take the lock ${lock}`);
}
