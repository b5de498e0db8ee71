-- fail: records a failed execution: retried (queued at once or scheduled
-- after the job's interval, RQ's index rule) while retries are left, else
-- failed or stopped for good, with dependents released or canceled per their
-- policy. Then dequeues the worker's next jobs in the same round trip.
-- include: worker-state dequeue record
-- KEYS: none
-- ARGV: id, execution id, queue, worker, mode ('failed' | 'stopped' |
--   'unrecoverable'), exc_string (base64 zlib of the traceback text),
--   failure_ttl default, queue retry ('' or '<max> <intervals JSON>', see
--   fail_job), started (float s), ended (float s),
--   then the dequeue tail: count, hb_ttl, exec_ttl, n_queues, queues..., execution ids...
-- Returns (packed, as dequeue.lua's): {outcome, next jobs}; outcome is 'retried', 'scheduled', 'failed',
--   'stopped', 'missing' (the hash is gone) or 'stale' (already recovered).
local worker = ARGV[4]
local outcome = record_safely(record_fail, ARGV[1], ARGV[2], ARGV[3], worker, ARGV[9], ARGV[10], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10])
return cmsgpack.pack({ outcome, dequeue_from_argv(worker, 11, true, outcome ~= 'stale') })
