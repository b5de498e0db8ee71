-- fail: records a failed execution: retried (queued at once or scheduled
-- after the job's interval, RQ's index rule) while retries are left, else
-- failed or stopped for good, with dependents released or canceled per their
-- policy. Then dequeues the worker's next jobs in the same round trip.
-- KEYS: none
-- ARGV: id, execution id, queue, worker, mode ('failed' | 'stopped' |
--   'unrecoverable'), exc_string (base64 zlib of the traceback text),
--   failure_ttl default, started (float s), ended (float s), working time (s),
--   then the dequeue tail: count, hb_ttl, exec_ttl, n_queues, queues..., execution ids...
-- Returns: {outcome, next jobs}; outcome is 'retried', 'scheduled', 'failed',
--   'stopped', 'missing' (the hash is gone) or 'stale' (already recovered).
local id, e, q, worker, mode = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local wk = worker_key(worker)
-- Idempotent: an execution neither in wip nor with its key left was
-- recorded already (a resend) or recovered as abandoned.
if redis.call('ZREM', wip_key(q), id .. ':' .. e) == 0 and redis.call('EXISTS', execution_key(id, e)) == 0 then
  return { 'stale', dequeue_from_argv(worker, 11, true) }
end
end_execution(id, e, q, worker, true, true)
redis.call('HINCRBY', wk, 'failed_job_count', 1)
redis.call('HINCRBYFLOAT', wk, 'total_working_time', ARGV[10])
local outcome = fail_job(id, e, q, worker, mode, ARGV[6], ARGV[8], ARGV[9], tonumber(ARGV[7]))
return { outcome, dequeue_from_argv(worker, 11, true) }
