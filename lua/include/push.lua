-- include: keys clock
-- Putting a job on its queue or the scheduled registry, and waking idle workers.

local function wake(q)
  if redis.call('EXISTS', waiting_key(q)) == 1 then
    redis.call('DEL', waiting_key(q))
    redis.call('PUBLISH', wake_channel(q), '1')
  end
end

-- Puts a job on its queue (status queued, new enqueued_at), as RQ's
-- Queue._enqueue_job does. Used by enqueue, dependents, retries, requeue
-- and the scheduler.
local function push_job(id, q, at_front)
  redis.call('HSET', job_key(id), 'status', 'queued', 'enqueued_at', NOW_ISO, 'origin', q)
  redis.call('SADD', P .. 'queues', queue_key(q))
  if at_front then
    redis.call('LPUSH', queue_key(q), id)
  else
    redis.call('RPUSH', queue_key(q), id)
  end
  wake(q)
end

local function schedule_job(id, q, at_seconds)
  redis.call('HSET', job_key(id), 'status', 'scheduled')
  redis.call('SADD', P .. 'queues', queue_key(q))
  redis.call('ZADD', scheduled_key(q), at_seconds, id)
  redis.call('PUBLISH', scheduled_channel(q), tostring(at_seconds))
end

-- RQ's Job.should_enqueue_at_front, for jobs leaving deferred/scheduled.
local function enqueue_at_front(id)
  local f = redis.call('HMGET', job_key(id), 'enqueue_at_front', 'enqueue_at_front_on_retry', 'started_at')
  if f[1] == '1' then return true end
  return f[2] == '1' and f[3] ~= false and f[3] ~= ''
end
