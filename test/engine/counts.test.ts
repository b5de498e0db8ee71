import assert from 'node:assert/strict';
import { test } from 'node:test';
import { COUNTS_EVERY_MS, JobCounts } from '../../src/engine/worker/counts.js';
import type { EndRecord } from '../../src/engine/transitions.js';

const finish = (startedAt: number, endedAt: number): EndRecord => ({
  kind: 'finish', id: 'j', execId: 'e', queue: 'q', startedAt, endedAt, returnValue: '', resultTtl: 500, hasDependencies: false, repeats: false,
});
const fail = (startedAt: number, endedAt: number): EndRecord => ({
  kind: 'fail', id: 'j', execId: 'e', queue: 'q', startedAt, endedAt, mode: 'failed', excString: '', failureTtl: 1, queueRetry: '',
});

test('JobCounts: counts ends as the scripts recorded them, and a busy worker sends its totals once per COUNTS_EVERY_MS', () => {
  const c = new JobCounts();
  assert.equal(c.due(0), undefined, 'nothing to send');
  c.add(finish(1, 1.5), 'finished');
  c.add(finish(1, 3), 'stale'); // recovered elsewhere: not recorded here
  c.add(finish(2, 2.25), 'script-error'); // failed by the script
  c.add(fail(3, 4), 'retried'); // each failed attempt counts
  const first = c.due(COUNTS_EVERY_MS);
  assert.deepEqual(first, { successful: 1, failed: 2, workingTime: 1.75 });
  assert.equal(c.pending, false);
  c.add(finish(5, 6), 'repeated');
  assert.equal(c.due(COUNTS_EVERY_MS + 999), undefined, 'not yet a second since the last');
  assert.equal(c.pending, true);
  assert.deepEqual(c.due(2 * COUNTS_EVERY_MS), { successful: 2, failed: 2, workingTime: 2.75 });
  c.notSent(); // that call failed: the next carries the totals again
  assert.deepEqual(c.take(2 * COUNTS_EVERY_MS + 1), { successful: 2, failed: 2, workingTime: 2.75 });
  assert.equal(c.take(), undefined);
});
