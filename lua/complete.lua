-- complete: records several ended executions of one worker in one call (a
-- worker running many jobs at once batches the ends of one tick), then
-- dequeues the worker's next jobs, as finish.lua and fail.lua do for one.
-- include: worker-state dequeue record
-- KEYS: none
-- ARGV: worker, n, then n records, of 10 fields for a finish, 11 for a fail:
--   'finish', id, execution id, queue, return value, result_ttl, flags, started, ended, working time
--   'fail',   id, execution id, queue, mode, exc_string, failure_ttl default, queue retry, started, ended, working time
--   (fields as in finish.lua / fail.lua),
--   then the dequeue tail: count, hb_ttl, exec_ttl, n_queues, queues..., execution ids...
-- Returns (packed, as dequeue.lua's): {outcomes (one per record, as finish.lua / fail.lua), next jobs}
local worker = ARGV[1]
local n = tonumber(ARGV[2])
local outcomes = {}
local ok, failed, working = 0, 0, 0
local b = 3
for i = 1, n do
  local outcome
  if ARGV[b] == 'finish' then
    outcome = record_safely(record_finish, ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], worker, ARGV[b + 7], ARGV[b + 8], ARGV[b + 4], ARGV[b + 5], ARGV[b + 6], ARGV[b + 7], ARGV[b + 8])
    if outcome == 'script-error' then failed = failed + 1 elseif outcome ~= 'stale' then ok = ok + 1 end
    if outcome ~= 'stale' then working = working + tonumber(ARGV[b + 9]) end
    b = b + 10
  else
    outcome = record_safely(record_fail, ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], worker, ARGV[b + 8], ARGV[b + 9], ARGV[b + 4], ARGV[b + 5], ARGV[b + 6], ARGV[b + 7], ARGV[b + 8], ARGV[b + 9])
    if outcome ~= 'stale' then failed = failed + 1; working = working + tonumber(ARGV[b + 10]) end
    b = b + 11
  end
  outcomes[i] = outcome
end
count_jobs(worker, ok, failed, working)
return cmsgpack.pack({ outcomes, dequeue_from_argv(worker, b, true) })
