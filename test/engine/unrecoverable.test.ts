// UnrecoverableError is recognised by a brand: a second copy of the engine's
// errors module (the sources under tsx next to dist/, or two installs) throws
// errors that are not `instanceof` this copy's class, yet must still fail the
// job at once instead of being retried.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isUnrecoverable, Job, Queue, Retry, UnrecoverableError } from '../../src/index.js';
import { engineFixture, tasks } from '../helpers/engine.js';
import { uniq, waitForEvent } from '../helpers/util.js';

const fx = engineFixture();

async function otherCopy(): Promise<typeof UnrecoverableError> {
  // A query string makes the loader evaluate the module a second time.
  const mod = (await import(`../../src/engine/errors.ts?copy=${uniq('c')}`)) as { UnrecoverableError: typeof UnrecoverableError };
  assert.notEqual(mod.UnrecoverableError, UnrecoverableError, 'a distinct copy of the class');
  return mod.UnrecoverableError;
}

test('isUnrecoverable: this copy, another copy and subclasses; not plain errors', async () => {
  const Other = await otherCopy();
  class Permanent extends UnrecoverableError {}
  assert.equal(new Other('x') instanceof UnrecoverableError, false);
  assert.equal(isUnrecoverable(new Other('x')), true);
  assert.equal(isUnrecoverable(new UnrecoverableError('x')), true);
  assert.equal(isUnrecoverable(new Permanent('x')), true);
  for (const v of [new Error('x'), null, undefined, 'UnrecoverableError', { name: 'UnrecoverableError' }]) assert.equal(isUnrecoverable(v), false);
});

test("another copy's UnrecoverableError fails the job at once, retries left untouched", async () => {
  const Other = await otherCopy();
  const name = uniq('q');
  const job = await new Queue(name, fx.redis).enqueue('t.perm', { retry: new Retry({ max: 3 }) });
  const w = fx.worker([name], tasks({ 't.perm': () => { throw new Other('550 mailbox unavailable'); } }), { burst: true });
  const failed = waitForEvent<[Job, string, string]>(w, 'job-failed');
  await w.done;
  const [, , outcome] = await failed;
  assert.equal(outcome, 'failed');
  const j = await Job.fetch(fx.redis, job.id);
  assert.equal(j.status, 'failed');
  assert.equal(j.retriesLeft, 3);
});
