-- finish: records a successful execution (RQ's handle_job_success), releases
-- dependents, then dequeues the worker's next jobs in the same round trip.
-- include: worker-state dequeue record
-- KEYS: none
-- ARGV: id, execution id, queue, worker, return value (base64 JSON, '' for None),
--   result_ttl (the job's, else the worker's default), flags (see record_finish: '1' has
--   dependencies, 'r' had repeats left when dequeued; '' neither),
--   started (float s), ended (float s),
--   then the dequeue tail: count, hb_ttl, exec_ttl, n_queues, queues..., execution ids...
-- Returns (packed, as dequeue.lua's): {outcome, next jobs as in dequeue.lua}; outcome is 'finished',
--   'repeated' or 'scheduled' (a Repeat with repeats left: queued or
--   scheduled again), or 'stale' when this execution had already been recovered as abandoned
--   (nothing is written then).
local worker = ARGV[4]
local outcome = record_safely(record_finish, ARGV[1], ARGV[2], ARGV[3], worker, ARGV[8], ARGV[9], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9])
return cmsgpack.pack({ outcome, dequeue_from_argv(worker, 10, true, outcome ~= 'stale') })
