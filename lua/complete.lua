-- complete: records several ended executions of one worker in one call (a
-- worker running many jobs at once batches the ends of one tick), then
-- dequeues the worker's next jobs, as finish.lua and fail.lua do for one.
-- include: worker-state dequeue record
-- KEYS: none
-- ARGV: worker, n, then n records, of 9 fields for a finish, 10 for a fail:
--   'finish', id, execution id, queue, return value, result_ttl, flags, started, ended
--   'fail',   id, execution id, queue, mode, exc_string, failure_ttl default, queue retry, started, ended
--   (fields as in finish.lua / fail.lua),
--   then the dequeue tail: count, hb_ttl, exec_ttl, n_queues, queues..., execution ids...
-- Returns (packed, as dequeue.lua's): {outcomes (one per record, as finish.lua / fail.lua), next jobs}
local worker = ARGV[1]
local n = tonumber(ARGV[2])
local outcomes = {}
local first_run = false
local b = 3
for i = 1, n do
  local outcome
  if ARGV[b] == 'finish' then
    outcome = record_safely(record_finish, ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], worker, ARGV[b + 7], ARGV[b + 8], ARGV[b + 4], ARGV[b + 5], ARGV[b + 6], ARGV[b + 7], ARGV[b + 8])
    b = b + 9
  else
    outcome = record_safely(record_fail, ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], worker, ARGV[b + 8], ARGV[b + 9], ARGV[b + 4], ARGV[b + 5], ARGV[b + 6], ARGV[b + 7], ARGV[b + 8], ARGV[b + 9])
    b = b + 10
  end
  outcomes[i] = outcome
  if outcome ~= 'stale' then first_run = true end
end
return cmsgpack.pack({ outcomes, dequeue_from_argv(worker, b, true, first_run) })
