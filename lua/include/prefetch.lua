-- include: keys clock push worker-state take
-- Prefetch (a worker's opt-in --prefetch N, not in RQ): jobs a worker took
-- from its queues before it can run them wait in a list of its own,
-- 'job:execution' members (the execution id is chosen at parking and used
-- when the job starts), status still 'queued', in no RQ registry. Not RQ's
-- intermediate list: RQ's cleanup fails what sits there a minute without a
-- wip entry. rq:prefetchers scores each worker with a parked job by when
-- it counts as dead (last heartbeat or parking + hb_ttl), so that recovery
-- finds the lists of dead workers; the lists themselves have no TTL, so
-- they cannot expire with jobs in them before recovery hands them back.
local PREFETCHERS = P .. 'prefetchers'
local function prefetched_key(w) return P .. 'worker:' .. w .. ':prefetched' end

-- A parked job goes back to the front of its queue, unless it was canceled
-- or deleted meanwhile (its status is no longer queued).
local function unpark_job(id)
  local f = redis.pcall('HMGET', job_key(id), 'status', 'origin')
  if type(f) ~= 'table' or f.err ~= nil or f[1] ~= 'queued' or not f[2] then return false end
  redis.call('LPUSH', queue_key(f[2]), id)
  wake(f[2])
  return true
end

-- Hands back `members` of a worker's parking list still there (in reverse,
-- so that LPUSH keeps their order at the front of the queue); all of them
-- when members is nil. Returns the members handed back.
local function unpark_members(worker, members)
  local pk = prefetched_key(worker)
  if members == nil then members = redis.call('LRANGE', pk, '0', '-1') end
  local out = {}
  for i = #members, 1, -1 do
    local m = members[i]
    if redis.call('LREM', pk, '1', m) == 1 then
      local id = string.match(m, '^(.*):[^:]*$')
      if id then unpark_job(id) end
      table.insert(out, m)
    end
  end
  if redis.call('EXISTS', pk) == 0 then redis.call('ZREM', PREFETCHERS, worker) end
  return out
end

-- A queued job that is in no queue may be parked: take it out of its
-- worker's list and tell that worker (its rq:pubsub channel) to drop it
-- before it starts it (cancel, delete, empty). Only workers that hold
-- parked jobs are looked at. Returns whether it was parked.
local function drop_parked(id)
  local prefix = id .. ':'
  for _, w in ipairs(redis.call('ZRANGE', PREFETCHERS, 0, -1)) do
    local pk = prefetched_key(w)
    for _, m in ipairs(redis.call('LRANGE', pk, '0', '-1')) do
      if string.sub(m, 1, #prefix) == prefix and not string.find(m, ':', #prefix + 1, true) then
        redis.call('LREM', pk, '1', m)
        redis.call('PUBLISH', P .. 'pubsub:' .. w, cjson.encode({ command = 'drop-prefetched', job_id = id }))
        return true
      end
    end
  end
  return false
end

-- Starts parked members ('job:execution') the worker has begun running: a
-- member still in its parking list is marked started (1); one that is not
-- was started by a first run of this call (a resend: 1 again, its wip
-- entry exists) or was taken out by cancel/delete/empty or handed back
-- (0: the worker drops that run and records nothing for it).
-- A member '*<execution id>' names a job by the execution id the worker
-- gave its parking, not yet knowing which job that is: the worker sends it
-- when the job is still on its way to it (parked by a call whose reply it
-- has not read), so that this call need not wait for that reply. Looked up
-- in its parking list, then among the worker's executions (a resend of this
-- call started it already; a start moves a member from the one to the
-- other in one step, so it is never in both); otherwise it names nothing:
-- a queue had no job for that parking, or it was taken out meanwhile (0).
local function with_suffix(members, suffix)
  for _, m in ipairs(members) do
    if string.sub(m, -#suffix) == suffix then return m end
  end
  return nil
end
local function member_of_execution(pk, wek, e)
  local suffix = ':' .. e
  return with_suffix(redis.call('LRANGE', pk, '0', '-1'), suffix) or with_suffix(redis.call('SMEMBERS', wek), suffix) or ''
end

-- Returns the 1/0 per member and whether any started.
local function start_parked(worker, members, hb_ttl, exec_ttl)
  local pk = prefetched_key(worker)
  local wek = worker_executions_key(worker)
  local res = {}
  local first = nil
  local st
  for i, m in ipairs(members) do
    if string.sub(m, 1, 1) == '*' then m = member_of_execution(pk, wek, string.sub(m, 2)) end
    local id, e = string.match(m, '^(.*):([^:]*)$')
    local ok = 0
    if id and redis.call('LREM', pk, '1', m) == 1 then
      local f = redis.pcall('HMGET', job_key(id), 'status', 'origin')
      if type(f) == 'table' and f.err == nil and f[1] == 'queued' and f[2] then
        st = st or start_stamps(hb_ttl, exec_ttl)
        mark_started(worker, wek, id, f[2], e, st)
        ok = 1
        first = first or id
      end
    elseif id and redis.call('SISMEMBER', wek, m) == 1 then
      ok = 1
    end
    res[i] = ok
  end
  if first then
    -- as in dequeue_jobs: no partial hash for a worker recovery removed
    if redis.call('EXISTS', worker_key(worker)) == 1 then
      redis.call('HSET', worker_key(worker), 'state', 'busy', 'current_job', first, 'last_heartbeat', NOW_ISO)
    end
    redis.call('EXPIRE', wek, st.executions_ttl)
  end
  return res, first ~= nil
end

-- Pops up to `count` jobs from `queues` into the worker's parking list,
-- each with its execution id, status left queued. Returns them as
-- dequeue_jobs does (id, queue, execution id, job hash). Safe to
-- resend: an execution id a first run of this call parked a job under
-- (still parked, or since started by a later call by that id) gives that
-- job again, not a second one, so that the job the worker reads of is the
-- one Redis holds under that id. first_run: the call recorded an end just
-- now, so it cannot be a resend (a resend finds its ends recorded) and its
-- execution ids are new: they are not looked up.
local function park_jobs(worker, queues, exec_ids, count, hb_ttl, first_run)
  local out = {}
  local pk = prefetched_key(worker)
  local wek = worker_executions_key(worker)
  local fresh = {}
  for i = 1, count do
    local e = exec_ids[i]
    local m = first_run and '' or member_of_execution(pk, wek, e)
    local id = string.match(m, '^(.*):[^:]*$')
    if id then
      local hash = redis.pcall('HGETALL', job_key(id))
      local q = type(hash) == 'table' and hash.err == nil and redis.call('HGET', job_key(id), 'origin')
      if q then
        table.insert(out, id)
        table.insert(out, q)
        table.insert(out, e)
        table.insert(out, hash)
      end
    else
      table.insert(fresh, e)
    end
  end
  local taken = pop_jobs(queues, #fresh, function(id, q, hash, n)
    local e = fresh[n]
    -- A list that exists has the worker's rq:prefetchers score already,
    -- kept fresh by its heartbeats while the list lasts (heartbeat.lua).
    if redis.call('RPUSH', pk, id .. ':' .. e) == 1 then
      redis.call('ZADD', PREFETCHERS, now_plus_text(hb_ttl), worker)
    end
    table.insert(out, id)
    table.insert(out, q)
    table.insert(out, e)
    table.insert(out, hash)
  end)
  return out
end

-- The dequeue tail of a worker with prefetch: 'prefetch', n_start, parked
-- members to start..., n_park, then the usual tail (count, hb_ttl,
-- exec_ttl, n_queues, queues..., count + n_park execution ids: the first
-- count for jobs started at once, the rest for jobs parked).
-- Returns { one 1/0 per member started (see start_parked), jobs started
-- (as dequeue_jobs, or {'suspended'}), jobs parked (as park_jobs) }.
-- Suspended: members are still started (the worker runs them already),
-- nothing new is taken; the worker hands its parked jobs back.
-- first_run: as park_jobs'.
local function prefetch_from_argv(worker, start, settle, first_run)
  local n_start = tonumber(ARGV[start + 1])
  local members = {}
  for i = 1, n_start do members[i] = ARGV[start + 1 + i] end
  local n_park = tonumber(ARGV[start + 2 + n_start])
  local b = start + 3 + n_start
  local count = tonumber(ARGV[b])
  local hb_ttl = tonumber(ARGV[b + 1])
  local exec_ttl = tonumber(ARGV[b + 2])
  local started, parked = {}, {}
  local suspended = count + n_park > 0 and redis.call('EXISTS', P .. 'suspended') == 1
  if count + n_park > 0 and not suspended then
    local nq = tonumber(ARGV[b + 3])
    local queues = {}
    for i = 1, nq do queues[i] = ARGV[b + 3 + i] end
    local now_ids, park_ids = {}, {}
    for i = b + 4 + nq, #ARGV do
      if #now_ids < count then table.insert(now_ids, ARGV[i]) else table.insert(park_ids, ARGV[i]) end
    end
    if count > 0 then started = dequeue_jobs(worker, queues, now_ids, math.min(count, #now_ids), hb_ttl, exec_ttl) end
    if n_park > 0 then parked = park_jobs(worker, queues, park_ids, math.min(n_park, #park_ids), hb_ttl, first_run) end
  end
  -- The members start after the parking: a worker that parks one job per
  -- call and starts the one parked before keeps its list from emptying, so
  -- the list is not deleted and made anew, nor its score written, per call.
  local starts, busy = start_parked(worker, members, hb_ttl, exec_ttl)
  if suspended then
    if settle and not busy then settle_worker_state(worker, 'suspended') end
    if redis.call('EXISTS', worker_key(worker)) == 1 then redis.call('HSET', worker_key(worker), 'state', 'suspended') end
    return { starts, { 'suspended' }, parked }
  end
  if settle and not busy and #started == 0 then settle_worker_state(worker) end
  return { starts, started, parked }
end
