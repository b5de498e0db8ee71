-- include: keys clock
-- Taking jobs for a worker and marking them started in one step.

-- A whole number as text by the integer format: a fraction of the cost of
-- '%.17g', whose float printing Redis pays for every number a script
-- hands to redis.call.
local function int_text(n)
  if n % 1 == 0 then return string.format('%d', n) end
  return string.format('%.17g', n)
end

-- What mark_started writes that is the same for every job of a call, as
-- strings, not four numbers printed per job: printed once a second
-- (string.format costs a call more than the ZADD it feeds), the wip
-- score's microseconds joined per call. Read-only to callers.
local stamps, wip_score = {}, {}
local function start_stamps(hb_ttl, exec_ttl)
  if stamps.exec ~= exec_ttl or stamps.now ~= NOW then
    stamps.exec, stamps.now = exec_ttl, NOW
    stamps.exec_ttl = int_text(exec_ttl)
    stamps.executions_score = int_text(NOW + exec_ttl + 60)
    stamps.executions_ttl = int_text(exec_ttl + 60)
  end
  stamps.wip_score = now_plus_text(hb_ttl, wip_score)
  return stamps
end

-- Marks a job started by `worker` as execution e: job fields, execution
-- hash and set, wip entry, the worker's executions (dequeue and the start
-- of a parked job). st: the call's start_stamps.
local function mark_started(worker, wek, id, q, e, st)
  local key = job_key(id)
  local member = id .. ':' .. e
  local ek = execution_key(id, e)
  local esk = executions_key(id)
  redis.call('HSET', key, 'status', 'started', 'started_at', NOW_ISO, 'worker_name', worker, 'last_heartbeat', NOW_ISO)
  redis.call('PERSIST', key)
  redis.call('HSET', ek, 'id', e, 'job_id', id, 'created_at', NOW_FS, 'last_heartbeat', NOW_FS, 'worker_name', worker)
  redis.call('EXPIRE', ek, st.exec_ttl)
  redis.call('ZADD', esk, st.executions_score, e)
  redis.call('EXPIRE', esk, st.executions_ttl)
  redis.call('ZADD', wip_key(q), st.wip_score, member)
  redis.call('SADD', wek, member)
end

-- Pops up to `count` jobs from `queues` (in the given order) and calls
-- each(id, q, hash, n) for the n-th one taken, in the same script that
-- records it somewhere else: there is no instant at which a job is in
-- neither a queue nor a registry. RQ skips ids whose hash has expired
-- (ttl) or was deleted; a key of another type is skipped too (HGETALL's
-- error is caught, not raised). Returns how many were taken.
local function pop_jobs(queues, count, each)
  local taken = 0
  for _, q in ipairs(queues) do
    local qk = queue_key(q)
    while taken < count do
      local id = redis.call('LPOP', qk)
      if not id then break end
      local hash = redis.pcall('HGETALL', job_key(id))
      if type(hash) == 'table' and hash.err == nil and #hash > 0 then
        taken = taken + 1
        each(id, q, hash, taken)
      end
    end
    if taken >= count then break end
  end
  return taken
end

-- Pops up to `count` jobs for `worker` (pop_jobs) and marks each started.
-- exec_ids supplies one fresh execution id per job. Returns a flat list:
-- id, queue, execution id, then the job hash as HGETALL gives it. The
-- scripts return it inside their whole reply, packed (see dequeue.lua).
local function dequeue_jobs(worker, queues, exec_ids, count, hb_ttl, exec_ttl)
  local out = {}
  local wk = worker_key(worker)
  local wek = worker_executions_key(worker)
  local st
  local taken = pop_jobs(queues, count, function(id, q, hash, n)
    local e = exec_ids[n]
    st = st or start_stamps(hb_ttl, exec_ttl)
    mark_started(worker, wek, id, q, e, st)
    -- the reply shows the job as it is now, without reading it twice
    for i = 1, #hash - 1, 2 do
      local k = hash[i]
      if k == 'status' then hash[i + 1] = 'started'
      elseif k == 'started_at' or k == 'last_heartbeat' then hash[i + 1] = NOW_ISO
      elseif k == 'worker_name' then hash[i + 1] = worker end
    end
    table.insert(out, id)
    table.insert(out, q)
    table.insert(out, e)
    table.insert(out, hash)
  end)
  if taken > 0 then
    -- A worker whose hash recovery removed (it stalled) re-registers at its
    -- next heartbeat; an HSET here would leave a partial hash with no TTL.
    if redis.call('EXISTS', wk) == 1 then
      redis.call('HSET', wk, 'state', 'busy', 'current_job', out[1], 'last_heartbeat', NOW_ISO)
    end
    redis.call('EXPIRE', wek, st.executions_ttl)
  elseif #queues > 0 then
    -- Tell producers that a worker of these queues is waiting (see wake()).
    for _, q in ipairs(queues) do
      redis.call('SET', waiting_key(q), '1', 'PX', '3000')
    end
    -- A worker that found nothing and runs nothing is idle, as RQ shows it
    -- (birth writes 'started').
    if redis.call('SCARD', wek) == 0 and redis.call('HGET', wk, 'state') == 'started' then
      redis.call('HSET', wk, 'state', 'idle')
    end
  end
  return out
end
