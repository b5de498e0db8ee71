-- dequeue: pops up to `count` jobs for a worker from its queues, in order,
-- and marks each started (execution, wip entry, job fields, worker busy).
-- include: dequeue
-- KEYS: none
-- ARGV: worker, count, hb_ttl, exec_ttl, n_queues, queue names..., execution ids...
-- Returns: {'suspended'} while rq:suspended exists; else a flat list of
--   id, queue, execution id, the job's HGETALL array packed with cmsgpack,
--   repeated per job ({} if none).
return dequeue_from_argv(ARGV[1], 2)
