-- include: keys clock ttl reads push dependents results
-- A failed execution: retried, scheduled, or failed/stopped for good.

-- The terminal-failure or retry bookkeeping shared by fail.lua (a worker
-- reports an error) and recover.lua (the worker died). mode is 'failed',
-- 'stopped' (never retried) or 'unrecoverable' (never retried).
-- queue_retry: the worker's default retry for the job's queue, '' for none,
-- else '<max> <intervals as JSON>'; it applies to a job that carries no retry
-- of its own (no retries_left field, e.g. enqueued by Python without Retry),
-- written into the hash as RQ's Retry would have been, so every reader sees
-- an ordinary retried job.
-- Returns 'retried', 'scheduled', 'failed' or 'stopped', or 'missing' when the
-- job's hash is gone (nothing is written then).
local function fail_job(id, e, q, worker, mode, exc_b64, started_f, ended_f, default_failure_ttl, queue_retry)
  local key = job_key(id)
  if redis.call('EXISTS', key) == 0 then return 'missing' end
  local retries_left = hget_num(key, 'retries_left')
  if retries_left == nil and mode == 'failed' and queue_retry ~= nil and queue_retry ~= '' then
    local max, intervals = string.match(queue_retry, '^(%d+) (.*)$')
    if max ~= nil and tonumber(max) > 0 then
      retries_left = tonumber(max)
      redis.call('HSET', key, 'retry_intervals', intervals)
    end
  end
  if mode == 'failed' and retries_left ~= nil and retries_left > 0 then
    local intervals = decode_list(redis.call('HGET', key, 'retry_intervals'))
    local interval = 0
    if #intervals > 0 then
      local idx = #intervals - retries_left
      if idx < 0 then idx = 0 end
      interval = tonumber(intervals[idx + 1]) or 0
    end
    redis.call('HSET', key, 'retries_left', retries_left - 1, 'ended_at', NOW_ISO, 'last_heartbeat', NOW_ISO)
    if interval > 0 then
      schedule_job(id, q, NOW_F + interval)
      return 'scheduled'
    end
    push_job(id, q, redis.call('HGET', key, 'enqueue_at_front_on_retry') == '1')
    return 'retried'
  end
  local status = 'failed'
  if mode == 'stopped' then status = 'stopped' end
  local ttl = clean_ttl(redis.call('HGET', key, 'failure_ttl'), clean_ttl(default_failure_ttl, ONE_YEAR))
  if mode == 'stopped' then
    -- RQ blanks these on a stopped job (its worker let go of it).
    redis.call('HSET', key, 'status', status, 'ended_at', '', 'last_heartbeat', '', 'worker_name', '')
  else
    redis.call('HSET', key, 'status', status, 'ended_at', NOW_ISO, 'last_heartbeat', NOW_ISO)
  end
  -- to the microsecond, as a finish's score (record.lua)
  local score = '-1'
  if ttl >= 0 then score = now_plus_text(ttl) end
  redis.call('ZADD', failed_key(q), score, id)
  local fields = { 'type', '2', 'worker_name', worker or '', 'exc_string', exc_b64 }
  if e ~= nil and e ~= '' then
    table.insert(fields, 'execution_id'); table.insert(fields, e)
    table.insert(fields, 'execution_started_at'); table.insert(fields, started_f)
    table.insert(fields, 'execution_ended_at'); table.insert(fields, ended_f)
  end
  add_result(id, ttl, fields)
  expire_job(id, ttl)
  if mode == 'stopped' then
    release_dependents(id, 'stopped')
  else
    release_dependents(id, 'failed')
  end
  return status
end
