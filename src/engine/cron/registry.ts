import { CronEntry, type CronOptions, type FuncRef } from './entry.js';

/** The entries a cron config registers: `import { cron } from 'openvle-rq'; cron.register(...)`. */
export class CronRegistry {
  private list: CronEntry[] = [];

  /**
   * Registers a job to enqueue on a schedule, as rq's cron.register.
   * `func` is a task name ('tasks.add') or a function exported by a task
   * module (its name is then '<module file base name>.<export name>', as the
   * worker's --import gives it) or carrying a `taskName` property.
   */
  register(func: FuncRef, opts: CronOptions): CronEntry {
    const entry = new CronEntry(this.list.length + 1, func, opts);
    this.list.push(entry);
    return entry;
  }

  entries(): CronEntry[] {
    return [...this.list];
  }

  clear(): void {
    this.list = [];
  }
}

/** The registry cron config files fill. */
export const cron = new CronRegistry();

