import type { ResultSetHeader } from 'mysql2';
import { Args } from '../args.js';
import { defineTask } from '../define.js';
import type { TaskServices } from '../services.js';

/** Rows per DELETE: short statements, so the table's other writers (sends) never wait long on its locks. */
export const CLEANUP_BATCH = 500;

/**
 * openvle.periodic.mail_cleanup: deletes `sent` mails sent more than
 * MAIL_MAX_AGE_WEEKS ago, in batches. Failed and queued rows stay: they
 * are what an operator looks at and resends. Safe to run twice at once.
 */
export async function cleanupMails(s: TaskServices, opts: { batch?: number } = {}): Promise<{ deleted: number }> {
  const weeks = s.config.worker.mailMaxAgeWeeks;
  const batch = opts.batch ?? CLEANUP_BATCH;
  let deleted = 0;
  for (;;) {
    const [res] = await s.pool.query<ResultSetHeader>(
      "DELETE FROM sent_mails WHERE status = 'sent' AND sent_at < CURRENT_TIMESTAMP(3) - INTERVAL ? WEEK ORDER BY sent_at LIMIT ?",
      [weeks, batch],
    );
    deleted += res.affectedRows;
    if (res.affectedRows < batch) return { deleted };
  }
}

export const MAIL_CLEANUP = defineTask({
  name: 'openvle.periodic.mail_cleanup',
  queue: 'core_periodic',
  label: 'Email cleanup',
  action: 'Delete old sent emails',
  run: (s, kwargs) => {
    new Args('openvle.periodic.mail_cleanup', kwargs).done();
    return cleanupMails(s);
  },
});
