-- heartbeat: a worker is alive; extends its key, its wip entries and their
-- execution keys, and each running job's last_heartbeat. Also hands back
-- executions of this worker that it does not know about: a dequeue (or the
-- dequeue tail of finish/fail) ran but its reply was lost to a dropped
-- connection, and the client resent it or gave up. Such a job never started:
-- it goes back to the front of its queue, no failure counted, instead of
-- waiting to be recovered as abandoned.
-- Also hands back parked jobs (prefetch) of this worker that it does not
-- know about (a lost reply again), and keeps its parking list counted alive.
-- include: keys clock liveness push worker-state prefetch
-- KEYS: none
-- ARGV: worker, worker key ttl, hb_ttl (wip score offset), exec_ttl,
--   min age (s) of an unknown execution before it is handed back, n_pending, then the execution ids of the worker's dequeue calls
--   still awaiting their reply and of the jobs it holds parked (never handed back), then per running
--   execution: queue, job id, execution id
-- Returns: { lost, handed }: lost are the 'job:execution' members no longer
--   in wip: they were recovered elsewhere (e.g. after a long stall) and must
--   not be finished here; handed are the members handed back to their queue;
--   gone is 1 when the worker's key is missing (it must register again).
local worker = ARGV[1]
local wk = worker_key(worker)
local wek = worker_executions_key(worker)
local hb_ttl, exec_ttl = tonumber(ARGV[3]), tonumber(ARGV[4])
local alive_until = now_plus_text(hb_ttl)
local min_age = tonumber(ARGV[5]) or 0
local n_pending = tonumber(ARGV[6]) or 0
local pending = {}
for i = 7, 6 + n_pending do pending[ARGV[i]] = true end
-- A worker whose registration recovery removed (it had stalled past the
-- dead-worker timeout) must register again: an HSET here would leave a
-- partial hash.
local gone = redis.call('EXISTS', wk) == 0
if not gone then redis.call('HSET', wk, 'last_heartbeat', NOW_ISO) end
note_heartbeat(hb_ttl)
if not gone then redis.call('EXPIRE', wk, tonumber(ARGV[2])) end
redis.call('EXPIRE', wek, tonumber(ARGV[2]))

local function renew(q, id, e, member)
  if redis.call('ZADD', wip_key(q), 'XX', 'CH', alive_until, member) == 0 and not redis.call('ZSCORE', wip_key(q), member) then
    return false
  end
  redis.call('HSET', execution_key(id, e), 'last_heartbeat', NOW_FS)
  redis.call('EXPIRE', execution_key(id, e), exec_ttl)
  redis.call('ZADD', executions_key(id), NOW + exec_ttl + 60, e)
  redis.call('EXPIRE', executions_key(id), exec_ttl + 60)
  return true
end

local lost = {}
local known = {}
for i = 7 + n_pending, #ARGV, 3 do
  local q, id, e = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local member = id .. ':' .. e
  known[member] = true
  if not renew(q, id, e, member) then
    table.insert(lost, member)
  elseif redis.call('EXISTS', job_key(id)) == 1 then
    redis.call('HSET', job_key(id), 'last_heartbeat', NOW_ISO)
  end
end

local handed = {}
for _, member in ipairs(redis.call('SMEMBERS', wek)) do
  local id, e = string.match(member, '^(.*):([^:]*)$')
  if id and not known[member] and not pending[e] then
    local q = redis.call('HGET', job_key(id), 'origin')
    if q and redis.call('ZSCORE', wip_key(q), member) then
      local created = tonumber(redis.call('HGET', execution_key(id, e), 'created_at'))
      if created == nil or NOW_F - created >= min_age then
        end_execution(id, e, q, worker)
        local f = redis.call('HMGET', job_key(id), 'status', 'worker_name')
        if f[1] == 'started' and f[2] == worker then push_job(id, q, true) end
        table.insert(handed, member)
      else
        renew(q, id, e, member)
      end
    end
  end
end
-- Parked jobs (prefetch) the worker does not know of: a call that parked
-- them lost its reply. Handed back to the front of their queue. The
-- worker lists the members it holds parked among its pending ids.
local pk = prefetched_key(worker)
local parked = redis.call('LRANGE', pk, '0', '-1')
if #parked > 0 then
  local unknown = {}
  for _, member in ipairs(parked) do
    local e = string.match(member, ':([^:]*)$')
    if e and not pending[e] and not known[member] then table.insert(unknown, member) end
  end
  for _, member in ipairs(unpark_members(worker, unknown)) do table.insert(handed, member) end
  if redis.call('EXISTS', pk) == 1 then redis.call('ZADD', PREFETCHERS, alive_until, worker) end
end
return { lost, handed, gone and 1 or 0 }
