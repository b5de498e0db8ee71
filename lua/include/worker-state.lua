-- include: keys
-- Ending executions and keeping the worker hash true (state, current job, counters).

-- The worker hash's current_job and state after executions ended. A worker
-- whose hash is gone (dead, or its key expired) gets none back: an HSET here
-- would recreate a partial hash with no TTL.
local function settle_worker_state(worker, idle_state)
  local wk = worker_key(worker)
  if redis.call('EXISTS', wk) == 0 then return end
  local other = redis.call('SRANDMEMBER', worker_executions_key(worker))
  if other then
    redis.call('HSET', wk, 'current_job', string.match(other, '^(.*):[^:]*$'))
  else
    redis.call('HDEL', wk, 'current_job')
    redis.call('HSET', wk, 'state', idle_state or 'idle', 'current_job_working_time', '0')
  end
end

-- Unregisters a worker that stopped heart-beating (its jobs are being
-- recovered): without this its hash would show it idle in `rq info` until
-- the key expires. A worker that was only stalled re-registers on its next
-- heartbeat (heartbeat.lua tells it).
local function forget_worker(worker)
  if redis.call('SCARD', worker_executions_key(worker)) > 0 then return end
  local wk = worker_key(worker)
  local qs = redis.call('HGET', wk, 'queues')
  if qs then
    for q in string.gmatch(qs, '[^,]+') do redis.call('SREM', P .. 'workers:' .. q, wk) end
  end
  redis.call('SREM', P .. 'workers', wk)
  redis.call('DEL', wk, worker_executions_key(worker))
end

-- Removes one execution from wip, the job's executions and the worker's
-- executions (wip_removed: the caller already took it out of wip). Unless defer_state (the caller settles the worker's state
-- once, after its dequeue tail), keeps the worker hash's state fields
-- (RQ 2.10 and HEAD) true.
local function end_execution(id, e, q, worker, defer_state, wip_removed)
  local member = id .. ':' .. e
  redis.call('DEL', execution_key(id, e))
  if not wip_removed then redis.call('ZREM', wip_key(q), member) end
  redis.call('ZREM', executions_key(id), e)
  if worker ~= nil and worker ~= '' then
    redis.call('SREM', worker_executions_key(worker), member)
    if not defer_state then settle_worker_state(worker) end
  end
end

-- RQ's per-worker counters, written as the totals the worker keeps of
-- the ends its calls recorded (src/engine/worker/counts.ts): about once a
-- second while it is busy, after 100 ms idle, and when it stops. RQ's
-- worker adds to them per job; here that was EXISTS, HINCRBY and
-- HINCRBYFLOAT in every call, 8 % of Redis' work per job at concurrency
-- 1. Totals make a resent call harmless. Not for a worker whose hash is
-- gone (see settle_worker_state).
local function write_counts(worker, ok, failed, working)
  local wk = worker_key(worker)
  if redis.call('EXISTS', wk) == 0 then return end
  redis.call('HSET', wk, 'successful_job_count', ok, 'failed_job_count', failed, 'total_working_time', working)
end
