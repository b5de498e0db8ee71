-- Shared helpers, prepended to every script in lua/ when it is loaded
-- (see src/engine/scripts.ts). Keys are RQ's: the prefix is always 'rq:'.
-- Scripts build job and registry keys from ids, as RQ's own Lua does; this
-- is fine on a standalone Redis or Sentinel, not on Redis Cluster.

local P = 'rq:'

local function job_key(id) return P .. 'job:' .. id end
local function dependents_key(id) return P .. 'job:' .. id .. ':dependents' end
-- RQ builds this one with a double colon; Python reads it so, so must we.
local function dependencies_key(id) return P .. 'job::' .. id .. ':dependencies' end
local function queue_key(q) return P .. 'queue:' .. q end
local function wip_key(q) return P .. 'wip:' .. q end
local function finished_key(q) return P .. 'finished:' .. q end
local function failed_key(q) return P .. 'failed:' .. q end
local function deferred_key(q) return P .. 'deferred:' .. q end
local function scheduled_key(q) return P .. 'scheduled:' .. q end
local function canceled_key(q) return P .. 'canceled:' .. q end
local function results_key(id) return P .. 'results:' .. id end
local function execution_key(id, e) return P .. 'execution:' .. id .. ':' .. e end
local function executions_key(id) return P .. 'executions:' .. id end
local function worker_key(w) return P .. 'worker:' .. w end
local function worker_executions_key(w) return P .. 'worker:' .. w .. ':executions' end
-- Not RQ keys: set by an idle worker of ours so that enqueue knows to wake it.
local function waiting_key(q) return P .. 'waiting:' .. q end
local function wake_channel(q) return P .. 'wake:' .. q end
local function scheduled_channel(q) return P .. 'scheduled-wake:' .. q end

local TIME = redis.call('TIME')
-- Redis' clock is the one clock every process shares, so every score and
-- timestamp written by a script comes from it.
local NOW_US = tonumber(TIME[1]) * 1000000 + tonumber(TIME[2])
local NOW = tonumber(TIME[1])                 -- integer seconds, RQ's score unit
local NOW_F = NOW_US / 1000000                -- float seconds

local function utcformat(us)
  -- % instead of math.floor: an operator, not a global function call, and
  -- exact here (every value is a non-negative integer below 2^53)
  local micro = us % 1000000
  local secs = (us - micro) / 1000000
  local rem = secs % 86400
  local days = (secs - rem) / 86400
  local s = rem % 60
  local mi = (rem - s) / 60 % 60
  local h = (rem - s - mi * 60) / 3600
  -- days since 1970-01-01 to a civil date (H. Hinnant's algorithm)
  local z = days + 719468
  local doe = z % 146097
  local era = (z - doe) / 146097
  local t = doe - (doe - doe % 1460) / 1460 + (doe - doe % 36524) / 36524 - (doe - doe % 146096) / 146096
  local yoe = (t - t % 365) / 365
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + (yoe - yoe % 4) / 4 - (yoe - yoe % 100) / 100)
  local mp = (5 * doy + 2 - (5 * doy + 2) % 153) / 153
  local d = doy - (153 * mp + 2 - (153 * mp + 2) % 5) / 5 + 1
  local mo = mp < 10 and mp + 3 or mp - 9
  if mo <= 2 then y = y + 1 end
  return string.format('%04d-%02d-%02dT%02d:%02d:%02d.%06dZ', y, mo, d, h, mi, s, micro)
end

local NOW_ISO = utcformat(NOW_US)

local function fmt_float(f)
  return string.format('%.6f', f)
end

-- fmt_float(NOW_F) to the digit (TIME's microseconds are the six decimals),
-- built from TIME's own digits: a quarter of the cost of string.format's
-- float conversion, paid by every call.
local NOW_FS = TIME[1] .. '.' .. string.sub('00000' .. TIME[2], -6)

-- TTLs come from job hashes any program may write and from ARGV; Redis
-- refuses an EXPIRE that is not an integer or is past its range, and a
-- script that errors after writing is not rolled back. So every TTL is
-- cleaned before a script's first write: a non-number gives the fallback
-- (RQ's default), a fraction is floored, a negative one means no expiry
-- (-1), and ten years (MAX_SECONDS in src/engine/limits.ts) is the most.
local MAX_TTL = 315360000
-- RQ's defaults, the fallbacks of clean_ttl (DEFAULT_RESULT_TTL and
-- DEFAULT_FAILURE_TTL in src/engine/defaults.ts).
local DEFAULT_RESULT_TTL = 500
local ONE_YEAR = 31536000
local function clean_ttl(v, fallback)
  local n = tonumber(v)
  if n == nil or n ~= n or n == math.huge or n == -math.huge then
    if fallback == nil then return nil end
    n = fallback
  end
  n = math.floor(n)
  if n < 0 then return -1 end
  if n > MAX_TTL then return MAX_TTL end
  return n
end

-- A job's status, false when its hash is gone. A key of another type
-- (written by another program, or an id like 'P:dependents') counts as gone
-- instead of aborting the script with WRONGTYPE.
local function job_status(id)
  local st = redis.pcall('HGET', job_key(id), 'status')
  if type(st) == 'table' then return false end
  return st
end

-- SMEMBERS that reads a key of another type as an empty set.
local function set_members(key)
  local m = redis.pcall('SMEMBERS', key)
  if type(m) ~= 'table' or m.err ~= nil then return {} end
  return m
end

local function hget_num(key, field)
  local v = redis.call('HGET', key, field)
  if v == false or v == '' then return nil end
  return tonumber(v)
end

-- Applies a job's ttl/result_ttl/failure_ttl to the hash and its two
-- dependency sets, as RQ's Job.cleanup does.
-- has_dependents / has_dependencies may be false when the caller knows
-- those sets do not exist, to spare the commands on the hot path.
local function expire_job(id, ttl, has_dependents, has_dependencies)
  ttl = clean_ttl(ttl, nil)
  if ttl == nil or ttl < 0 then
    redis.call('PERSIST', job_key(id))
    return
  end
  if ttl == 0 then
    redis.call('DEL', job_key(id), dependents_key(id), dependencies_key(id))
    return
  end
  redis.call('EXPIRE', job_key(id), ttl)
  if has_dependents ~= false then redis.call('EXPIRE', dependents_key(id), ttl) end
  if has_dependencies ~= false then redis.call('EXPIRE', dependencies_key(id), ttl) end
end

-- Not an RQ key: when some worker of ours last heart-beat, and until when
-- recovery is held after a silence of all of them (see recovery_held).
local LIVENESS = P .. 'liveness'

-- Every heartbeat notes that a worker is alive. When none had for longer
-- than hb_ttl, Redis or the network was away from all of them (or all died):
-- recovery waits two hb_ttl more, so that every live worker reconnects and
-- heart-beats before its running jobs could be taken for abandoned.
local function note_heartbeat(hb_ttl)
  local last = tonumber(redis.call('HGET', LIVENESS, 'last'))
  if last and NOW_F - last > hb_ttl then redis.call('HSET', LIVENESS, 'hold', fmt_float(NOW_F + 2 * hb_ttl)) end
  redis.call('HSET', LIVENESS, 'last', NOW_FS)
  redis.call('EXPIRE', LIVENESS, 86400)
end

-- True while recovery must wait (see note_heartbeat). A recovery pass that
-- comes first after the silence (one queued or resent while the connection
-- was down) starts the hold itself.
local function recovery_held(hb_ttl)
  local f = redis.call('HMGET', LIVENESS, 'last', 'hold')
  local last, hold = tonumber(f[1]), tonumber(f[2])
  if last and NOW_F - last > hb_ttl then
    redis.call('HSET', LIVENESS, 'hold', fmt_float(NOW_F + 2 * hb_ttl))
    return true
  end
  return hold ~= nil and NOW_F < hold
end

-- Makes a call safe to resend: ioredis resends a command whose reply a
-- dropped connection lost. ARGV[at] is the call's token ('' for none),
-- ARGV[at + 1] how long its answer is kept (s), then tokens of earlier calls
-- whose replies arrived, forgotten now (src/engine/call-token.ts). Returns
-- the answer a first run of this call stored, or nil and a function that
-- stores this run's answer. Not an RQ key: rq:call:<token>.
local function call_token(at)
  local token = ARGV[at]
  if token == nil or token == '' then return nil, function() end end
  local key = P .. 'call:' .. token
  local seen = redis.call('GET', key)
  if seen then return cjson.decode(seen), nil end
  for i = at + 2, #ARGV do redis.call('DEL', P .. 'call:' .. ARGV[i]) end
  local ttl = tonumber(ARGV[at + 1])
  return nil, function(answer) redis.call('SET', key, cjson.encode(answer), 'EX', ttl) end
end

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
  if members == nil then members = redis.call('LRANGE', pk, 0, -1) end
  local out = {}
  for i = #members, 1, -1 do
    local m = members[i]
    if redis.call('LREM', pk, 1, m) == 1 then
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
    for _, m in ipairs(redis.call('LRANGE', pk, 0, -1)) do
      if string.sub(m, 1, #prefix) == prefix and not string.find(m, ':', #prefix + 1, true) then
        redis.call('LREM', pk, 1, m)
        redis.call('PUBLISH', P .. 'pubsub:' .. w, cjson.encode({ command = 'drop-prefetched', job_id = id }))
        return true
      end
    end
  end
  return false
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

local function decode_list(raw)
  if raw == false or raw == nil or raw == '' then return {} end
  local ok, v = pcall(cjson.decode, raw)
  if ok and type(v) == 'table' then return v end
  return {}
end

local function cancel_job(id, reason)
  local key = job_key(id)
  local f = redis.call('HMGET', key, 'status', 'origin')
  local status, q = f[1], f[2]
  if status == false or status == 'canceled' then return false end
  if q ~= false then
    if redis.call('LREM', queue_key(q), 0, id) == 0 and status == 'queued' then drop_parked(id) end
    redis.call('ZREM', deferred_key(q), id)
    redis.call('ZREM', scheduled_key(q), id)
    redis.call('ZREM', finished_key(q), id)
    redis.call('ZREM', failed_key(q), id)
    redis.call('ZADD', canceled_key(q), NOW, id)
  end
  redis.call('HSET', key, 'status', 'canceled')
  if reason ~= nil then redis.call('HSET', key, 'cancel_reason', reason) end
  if reason == nil then
    -- an explicit cancel, as RQ 2.10's: the job is kept without a TTL
    redis.call('PERSIST', key)
  else
    -- Our cascade (RQ has none): kept as long as a failed job, never forever,
    -- so a chain of cancels cannot pile up jobs nobody asked to keep.
    local ttl = clean_ttl(redis.call('HGET', key, 'failure_ttl'), ONE_YEAR)
    if ttl < 0 then ttl = ONE_YEAR elseif ttl == 0 then ttl = 1 end
    redis.call('EXPIRE', key, ttl)
  end
  if q ~= false then
    -- RQ never cleans rq:canceled:<q>: a sample of its entries is checked on
    -- each cancel and those whose job is gone are dropped, so it stays
    -- bounded by the canceled jobs that still exist.
    local sample = redis.pcall('ZRANDMEMBER', canceled_key(q), 10)
    if type(sample) == 'table' and sample.err == nil then
      for _, old in ipairs(sample) do
        if redis.call('EXISTS', job_key(old)) == 0 then redis.call('ZREM', canceled_key(q), old) end
      end
    end
  end
  return true
end

-- Is every dependency of `id` done? `parent` is the job whose outcome is
-- being recorded; its new status is passed since the caller decides it.
local function dependencies_met(id, parent, parent_status, allow_failures)
  for _, dep in ipairs(set_members(dependencies_key(id))) do
    local st
    if dep == parent then st = parent_status else st = job_status(dep) end
    -- A dependency whose hash is gone counts as done, as in RQ.
    if st ~= false and st ~= 'finished' and not (allow_failures and st == 'failed') then
      return false
    end
  end
  return true
end

-- Called when `parent` reaches a terminal status. Enqueues every dependent
-- whose dependencies are now all met (RQ's enqueue_dependents); when the
-- parent did not finish, dependents that asked for it are canceled, down the
-- chain, instead of waiting forever. Returns whether `parent` had dependents.
local function release_dependents(parent, parent_status)
  local had_dependents = nil
  local pending = { { parent, parent_status, nil } }
  while #pending > 0 do
    local item = table.remove(pending)
    local pid, pstatus, root = item[1], item[2], item[3]
    local dkey = dependents_key(pid)
    local members = set_members(dkey)
    if had_dependents == nil then had_dependents = #members > 0 end
    for _, dep in ipairs(members) do
      local f = redis.pcall('HMGET', job_key(dep), 'status', 'origin', 'allow_dependency_failures', 'dependency_failure_policy')
      if f.err ~= nil then f = { false } end -- a key of another type: as if gone
      local st, q = f[1], f[2]
      if st == false then
        redis.call('SREM', dkey, dep)
      elseif st == 'deferred' then
        local allow = f[3] == '1'
        if pstatus == 'finished' or (pstatus == 'failed' and allow) then
          if dependencies_met(dep, pid, pstatus, allow) then
            redis.call('ZREM', deferred_key(q), dep)
            push_job(dep, q, enqueue_at_front(dep))
            redis.call('SREM', dkey, dep)
          end
        elseif f[4] == 'cancel' then
          local origin = root or pid
          local reason = 'canceled: dependency ' .. pid .. ' ended ' .. pstatus
          if origin ~= pid then reason = reason .. ' (chain started by ' .. origin .. ')' end
          cancel_job(dep, reason)
          redis.call('SREM', dkey, dep)
          table.insert(pending, { dep, 'canceled', origin })
        end
      else
        -- already queued, running or done: nothing to release
        redis.call('SREM', dkey, dep)
      end
    end
  end
  return had_dependents
end

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
    redis.call('HSET', wk, 'state', idle_state or 'idle', 'current_job_working_time', 0)
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
  local score = NOW + ttl
  if ttl < 0 then score = -1 end
  redis.call('ZADD', failed_key(q), score, id)
  local fields = { 'type', 2, 'worker_name', worker or '', 'exc_string', exc_b64 }
  if e ~= nil and e ~= '' then
    table.insert(fields, 'execution_id'); table.insert(fields, e)
    table.insert(fields, 'execution_started_at'); table.insert(fields, started_f)
    table.insert(fields, 'execution_ended_at'); table.insert(fields, ended_f)
  end
  redis.call('XADD', results_key(id), 'MAXLEN', '~', 10, '*', unpack(fields))
  if ttl > 0 then
    redis.call('EXPIRE', results_key(id), ttl)
  else
    redis.call('PERSIST', results_key(id))
  end
  expire_job(id, ttl)
  if mode == 'stopped' then
    release_dependents(id, 'stopped')
  else
    release_dependents(id, 'failed')
  end
  return status
end

-- Marks a job started by `worker` as execution e: job fields, execution
-- hash and set, wip entry, the worker's executions (dequeue and the start
-- of a parked job).
local function mark_started(worker, wek, id, q, e, hb_ttl, exec_ttl)
  local key = job_key(id)
  local member = id .. ':' .. e
  redis.call('HSET', key, 'status', 'started', 'started_at', NOW_ISO, 'worker_name', worker, 'last_heartbeat', NOW_ISO)
  redis.call('PERSIST', key)
  redis.call('HSET', execution_key(id, e), 'id', e, 'job_id', id, 'created_at', NOW_FS, 'last_heartbeat', NOW_FS, 'worker_name', worker)
  redis.call('EXPIRE', execution_key(id, e), exec_ttl)
  redis.call('ZADD', executions_key(id), NOW + exec_ttl + 60, e)
  redis.call('EXPIRE', executions_key(id), exec_ttl + 60)
  redis.call('ZADD', wip_key(q), NOW_F + hb_ttl, member)
  redis.call('SADD', wek, member)
end

-- Pops up to `count` jobs for `worker` from `queues` (in the given order)
-- and records each as started in the same script: there is no instant at
-- which a job is in neither a queue nor a registry.
-- exec_ids supplies one fresh execution id per job. Returns a flat list:
-- id, queue, execution id, then the job hash: its HGETALL array packed with
-- cmsgpack, one bulk string instead of one per field and value (half the
-- reply-building here, and a fraction of the objects the client allocates).
local function dequeue_jobs(worker, queues, exec_ids, count, hb_ttl, exec_ttl)
  local out = {}
  local wk = worker_key(worker)
  local wek = worker_executions_key(worker)
  local taken = 0
  for _, q in ipairs(queues) do
    local qk = queue_key(q)
    while taken < count do
      local id = redis.call('LPOP', qk)
      if not id then break end
      local key = job_key(id)
      -- RQ skips ids whose hash has expired (ttl) or was deleted; a key of
      -- another type is skipped too (HGETALL's error is caught, not raised).
      local hash = redis.pcall('HGETALL', key)
      if type(hash) == 'table' and hash.err == nil and #hash > 0 then
        taken = taken + 1
        local e = exec_ids[taken]
        mark_started(worker, wek, id, q, e, hb_ttl, exec_ttl)
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
        table.insert(out, cmsgpack.pack(hash))
      end
    end
    if taken >= count then break end
  end
  if taken > 0 then
    redis.call('HSET', wk, 'state', 'busy', 'current_job', out[1], 'last_heartbeat', NOW_ISO)
    redis.call('EXPIRE', wek, exec_ttl + 60)
  elseif #queues > 0 then
    -- Tell producers that a worker of these queues is waiting (see wake()).
    for _, q in ipairs(queues) do
      redis.call('SET', waiting_key(q), '1', 'PX', 3000)
    end
    -- A worker that found nothing and runs nothing is idle, as RQ shows it
    -- (birth writes 'started').
    if redis.call('SCARD', wek) == 0 and redis.call('HGET', wk, 'state') == 'started' then
      redis.call('HSET', wk, 'state', 'idle')
    end
  end
  return out
end

-- Starts parked members ('job:execution') the worker has begun running: a
-- member still in its parking list is marked started (1); one that is not
-- was started by a first run of this call (a resend: 1 again, its wip
-- entry exists) or was taken out by cancel/delete/empty or handed back
-- (0: the worker drops that run and records nothing for it).
local function start_parked(worker, members, hb_ttl, exec_ttl)
  local pk = prefetched_key(worker)
  local wek = worker_executions_key(worker)
  local res = {}
  local first = nil
  for i, m in ipairs(members) do
    local id, e = string.match(m, '^(.*):([^:]*)$')
    local ok = 0
    if id and redis.call('LREM', pk, 1, m) == 1 then
      local f = redis.pcall('HMGET', job_key(id), 'status', 'origin')
      if type(f) == 'table' and f.err == nil and f[1] == 'queued' and f[2] then
        mark_started(worker, wek, id, f[2], e, hb_ttl, exec_ttl)
        ok = 1
        first = first or id
      end
    elseif id and redis.call('SISMEMBER', wek, m) == 1 then
      ok = 1
    end
    res[i] = ok
  end
  if first then
    redis.call('HSET', worker_key(worker), 'state', 'busy', 'current_job', first, 'last_heartbeat', NOW_ISO)
    redis.call('EXPIRE', wek, exec_ttl + 60)
  end
  return res, first ~= nil
end

-- Pops up to `count` jobs from `queues` into the worker's parking list,
-- each with its execution id, status left queued. Returns them as
-- dequeue_jobs does (id, queue, execution id, packed hash).
local function park_jobs(worker, queues, exec_ids, count, hb_ttl)
  local out = {}
  local pk = prefetched_key(worker)
  local taken = 0
  for _, q in ipairs(queues) do
    local qk = queue_key(q)
    while taken < count do
      local id = redis.call('LPOP', qk)
      if not id then break end
      local hash = redis.pcall('HGETALL', job_key(id))
      if type(hash) == 'table' and hash.err == nil and #hash > 0 then
        taken = taken + 1
        local e = exec_ids[taken]
        redis.call('RPUSH', pk, id .. ':' .. e)
        table.insert(out, id)
        table.insert(out, q)
        table.insert(out, e)
        table.insert(out, cmsgpack.pack(hash))
      end
    end
    if taken >= count then break end
  end
  if taken > 0 then redis.call('ZADD', PREFETCHERS, NOW_F + hb_ttl, worker) end
  return out
end

-- Ends a worker's execution for finish/fail, once: false when it is neither
-- in wip nor has its key left, i.e. it was recorded already (a resend) or
-- recovered as abandoned; the caller then writes nothing ('stale').
local function end_reported_execution(id, e, q, worker)
  if redis.call('ZREM', wip_key(q), id .. ':' .. e) == 0 and redis.call('EXISTS', execution_key(id, e)) == 0 then
    return false
  end
  end_execution(id, e, q, worker, true, true)
  return true
end

-- A successful run's entry in the job's results stream (RQ's Result:
-- type 1, the return value when there is one, the execution's times).
local function add_success_result(id, worker, rv, e, started, ended)
  local fields = { 'type', 1, 'worker_name', worker }
  if rv ~= '' then fields[5] = 'return_value'; fields[6] = rv end
  local n = #fields
  fields[n + 1] = 'execution_id'; fields[n + 2] = e
  fields[n + 3] = 'execution_started_at'; fields[n + 4] = started
  fields[n + 5] = 'execution_ended_at'; fields[n + 6] = ended
  redis.call('XADD', results_key(id), 'MAXLEN', '~', 10, '*', unpack(fields))
end

-- A successful execution (RQ's handle_job_success): results, finished
-- registry, TTLs, dependents. ttl is the job's result_ttl (the worker's
-- default when the job has none; RQ's worker also takes it from the job it
-- holds); has_deps: the job has dependency_ids. Idempotent (see
-- end_reported_execution). The worker's job counters are the caller's
-- (count_jobs), once per call.
local function record_finish(id, e, q, worker, rv, ttl, has_deps, started, ended)
  ttl = clean_ttl(ttl, DEFAULT_RESULT_TTL)
  if not end_reported_execution(id, e, q, worker) then return 'stale' end
  local key = job_key(id)
  -- The job may have been deleted while it ran: then only the execution
  -- ends. With a positive ttl, EXPIRE both applies it and tells.
  local exists
  if ttl > 0 then exists = redis.call('EXPIRE', key, ttl) == 1 else exists = redis.call('EXISTS', key) == 1 end
  if exists then
    local repeats_left = hget_num(key, 'repeats_left')
    if repeats_left ~= nil and repeats_left > 0 then
      -- RQ's Repeat.schedule: the run's result is recorded, the job goes
      -- back to its queue (or is scheduled) and is neither finished nor
      -- expiring; its dependents wait for the last run.
      local intervals = decode_list(redis.call('HGET', key, 'repeat_intervals'))
      local interval = 0
      if #intervals > 0 then
        -- indexed from the remaining count, as RQ: min(left - 1, len - 1)
        local idx = math.min(repeats_left - 1, #intervals - 1)
        interval = tonumber(intervals[idx + 1]) or 0
      end
      redis.call('PERSIST', key)
      redis.call('HSET', key, 'repeats_left', repeats_left - 1, 'ended_at', NOW_ISO, 'last_heartbeat', NOW_ISO)
      add_success_result(id, worker, rv, e, started, ended)
      redis.call('PERSIST', results_key(id))
      if interval > 0 then
        schedule_job(id, q, NOW_F + interval)
        return 'scheduled'
      end
      push_job(id, q, false)
      return 'repeated'
    end
    redis.call('HSET', key, 'status', 'finished', 'ended_at', NOW_ISO, 'last_heartbeat', NOW_ISO)
    local had_dependents = release_dependents(id, 'finished')
    if ttl ~= 0 then
      add_success_result(id, worker, rv, e, started, ended)
      if ttl > 0 then
        redis.call('EXPIRE', results_key(id), ttl)
        redis.call('ZADD', finished_key(q), NOW + ttl, id)
      else
        redis.call('PERSIST', results_key(id))
        redis.call('ZADD', finished_key(q), '+inf', id)
      end
    end
    if ttl > 0 then
      if had_dependents then redis.call('EXPIRE', dependents_key(id), ttl) end
      if has_deps then redis.call('EXPIRE', dependencies_key(id), ttl) end
    else
      expire_job(id, ttl, had_dependents, has_deps)
    end
  end
  return 'finished'
end

-- A failed execution (retry-aware, see fail_job); idempotent as record_finish.
local function record_fail(id, e, q, worker, mode, exc_b64, default_failure_ttl, queue_retry, started, ended)
  if not end_reported_execution(id, e, q, worker) then return 'stale' end
  return fail_job(id, e, q, worker, mode, exc_b64, started, ended, tonumber(default_failure_ttl), queue_retry)
end

-- RQ's per-worker counters, for the executions one call recorded (summed:
-- a call that records many ends writes them once). Not for a worker whose
-- hash is gone (see settle_worker_state).
local function count_jobs(worker, ok, failed, working)
  local wk = worker_key(worker)
  if redis.call('EXISTS', wk) == 0 then return end
  if ok > 0 then redis.call('HINCRBY', wk, 'successful_job_count', ok) end
  if failed > 0 then redis.call('HINCRBY', wk, 'failed_job_count', failed) end
  if ok + failed > 0 then redis.call('HINCRBYFLOAT', wk, 'total_working_time', working) end
end

-- The dequeue tail of a worker with prefetch: 'prefetch', n_start, parked
-- members to start..., n_park, then the usual tail (count, hb_ttl,
-- exec_ttl, n_queues, queues..., count + n_park execution ids: the first
-- count for jobs started at once, the rest for jobs parked).
-- Returns { one 1/0 per member started (see start_parked), jobs started
-- (as dequeue_jobs, or {'suspended'}), jobs parked (as park_jobs) }.
-- Suspended: members are still started (the worker runs them already),
-- nothing new is taken; the worker hands its parked jobs back.
local function prefetch_from_argv(worker, start, settle)
  local n_start = tonumber(ARGV[start + 1])
  local members = {}
  for i = 1, n_start do members[i] = ARGV[start + 1 + i] end
  local n_park = tonumber(ARGV[start + 2 + n_start])
  local b = start + 3 + n_start
  local count = tonumber(ARGV[b])
  local hb_ttl = tonumber(ARGV[b + 1])
  local exec_ttl = tonumber(ARGV[b + 2])
  local starts, busy = start_parked(worker, members, hb_ttl, exec_ttl)
  local started, parked = {}, {}
  if count + n_park > 0 then
    if redis.call('EXISTS', P .. 'suspended') == 1 then
      if settle and not busy then settle_worker_state(worker, 'suspended') end
      if redis.call('EXISTS', worker_key(worker)) == 1 then redis.call('HSET', worker_key(worker), 'state', 'suspended') end
      return { starts, { 'suspended' }, parked }
    end
    local nq = tonumber(ARGV[b + 3])
    local queues = {}
    for i = 1, nq do queues[i] = ARGV[b + 3 + i] end
    local now_ids, park_ids = {}, {}
    for i = b + 4 + nq, #ARGV do
      if #now_ids < count then table.insert(now_ids, ARGV[i]) else table.insert(park_ids, ARGV[i]) end
    end
    if count > 0 then started = dequeue_jobs(worker, queues, now_ids, math.min(count, #now_ids), hb_ttl, exec_ttl) end
    if n_park > 0 then parked = park_jobs(worker, queues, park_ids, math.min(n_park, #park_ids), hb_ttl) end
  end
  if settle and not busy and #started == 0 then settle_worker_state(worker) end
  return { starts, started, parked }
end

-- Shared ARGV tail of dequeue.lua, finish.lua, fail.lua and complete.lua:
-- count, hb_ttl, exec_ttl, n_queues, queues..., exec ids...
-- settle: the caller ended an execution with defer_state; settle the
-- worker's state unless new jobs made it busy.
local function dequeue_from_argv(worker, start, settle)
  if ARGV[start] == 'prefetch' then return prefetch_from_argv(worker, start, settle) end
  local count = tonumber(ARGV[start])
  if count == nil or count <= 0 then
    if settle then settle_worker_state(worker) end
    return {}
  end
  if redis.call('EXISTS', P .. 'suspended') == 1 then
    if settle then settle_worker_state(worker, 'suspended') end
    if redis.call('EXISTS', worker_key(worker)) == 1 then redis.call('HSET', worker_key(worker), 'state', 'suspended') end
    return { 'suspended' }
  end
  local hb_ttl = tonumber(ARGV[start + 1])
  local exec_ttl = tonumber(ARGV[start + 2])
  local nq = tonumber(ARGV[start + 3])
  local queues = {}
  for i = 1, nq do queues[i] = ARGV[start + 3 + i] end
  local exec_ids = {}
  for i = start + 4 + nq, #ARGV do table.insert(exec_ids, ARGV[i]) end
  if count > #exec_ids then count = #exec_ids end
  local out = dequeue_jobs(worker, queues, exec_ids, count, hb_ttl, exec_ttl)
  if settle and #out == 0 then settle_worker_state(worker) end
  return out
end

-- The failure reason as RQ stores it: base64(zlib(text)), the zlib stream
-- made of one stored block (valid for every zlib reader, Python's too).
local B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
local function base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local c1, c2 = math.floor(n / 262144) % 64, math.floor(n / 4096) % 64
    local c3, c4 = math.floor(n / 64) % 64, n % 64
    out[#out + 1] = B64:sub(c1 + 1, c1 + 1) .. B64:sub(c2 + 1, c2 + 1)
      .. (b and B64:sub(c3 + 1, c3 + 1) or '=') .. (c and B64:sub(c4 + 1, c4 + 1) or '=')
  end
  return table.concat(out)
end

local function exc_string(text)
  text = string.sub(text, 1, 4000)
  local n = #text
  local a, b = 1, 0
  for i = 1, n do
    a = (a + text:byte(i)) % 65521
    b = (b + a) % 65521
  end
  local header = string.char(0x78, 0x01, 0x01, n % 256, math.floor(n / 256), (65535 - n) % 256, math.floor((65535 - n) / 256))
  local adler = string.char(math.floor(b / 256), b % 256, math.floor(a / 256), a % 256)
  return base64(header .. text .. adler)
end

-- Records one ended execution (record_finish or record_fail with its
-- arguments) so that an error inside it ends this job, and only this one:
-- whatever it wrote stays (Redis does not roll back), the execution is
-- ended if it was not, and the job is failed with the reason, so it is
-- never left 'started' in no registry nor handed back to run again.
-- Returns the record's outcome, or 'script-error' when the job was failed so.
local function record_safely(record, id, e, q, worker, started, ended, ...)
  local ok, outcome = pcall(record, id, e, q, worker, ...)
  if ok then return outcome end
  local reason = type(outcome) == 'table' and tostring(outcome.err) or tostring(outcome)
  local ok2 = pcall(function()
    redis.call('ZREM', wip_key(q), id .. ':' .. e)
    end_execution(id, e, q, worker, true, true)
    local key = job_key(id)
    if redis.call('TYPE', key).ok ~= 'hash' then return end
    redis.call('HSET', key, 'status', 'failed', 'ended_at', NOW_ISO, 'last_heartbeat', NOW_ISO)
    redis.call('EXPIRE', key, ONE_YEAR)
    redis.call('ZADD', failed_key(q), NOW + ONE_YEAR, id)
    local text = 'ScriptError: the end of this execution could not be recorded: ' .. reason
    -- the results key itself may be what failed: the job still ends failed
    redis.pcall('XADD', results_key(id), 'MAXLEN', '~', 10, '*', 'type', 2, 'worker_name', worker or '',
      'exc_string', exc_string(text), 'execution_id', e, 'execution_started_at', started, 'execution_ended_at', ended)
    redis.pcall('EXPIRE', results_key(id), ONE_YEAR)
    pcall(release_dependents, id, 'failed')
  end)
  if not ok2 then return 'stale' end
  return 'script-error'
end
