-- death: unregisters a worker as RQ's register_death does. Executions it
-- still holds (a cold shutdown) get their wip score set to now, so that the
-- next recovery pass of any worker retries or fails them at once. Jobs it
-- held parked (prefetch) go back to the front of their queues.
-- Its last job counts are written too (see write_counts).
-- include: keys clock worker-state prefetch
-- KEYS: none
-- ARGV: worker, n_queues, queues..., then successful, failed, working time
--   (the worker's totals) when it sends them
-- Returns: the number of executions handed to recovery.
local worker = ARGV[1]
local wk = worker_key(worker)
redis.call('SREM', P .. 'workers', wk)
local nq = tonumber(ARGV[2])
for i = 1, nq do redis.call('SREM', P .. 'workers:' .. ARGV[2 + i], wk) end
-- Parked jobs (prefetch) the worker never started go back to the front of
-- their queues (not counted: they need no recovery).
unpark_members(worker, nil)
local counts = 3 + nq
if ARGV[counts] then write_counts(worker, ARGV[counts], ARGV[counts + 1], ARGV[counts + 2]) end
local handed = 0
for _, member in ipairs(redis.call('SMEMBERS', worker_executions_key(worker))) do
  local id = string.match(member, '^(.*):[^:]*$')
  local q = id and redis.call('HGET', job_key(id), 'origin')
  if q and redis.call('ZADD', wip_key(q), 'XX', 'CH', NOW_F - 1, member) == 1 then handed = handed + 1 end
end
redis.call('DEL', worker_executions_key(worker))
redis.call('HSET', wk, 'death', NOW_ISO)
redis.call('HDEL', wk, 'current_job')
redis.call('EXPIRE', wk, 60)
return handed
