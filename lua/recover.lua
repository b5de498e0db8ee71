-- recover: handles executions whose worker stopped heart-beating (RQ's
-- abandoned jobs): each is retried if it has retries left, else failed with
-- AbandonedJobError, dependents handled as for any failure.
-- include: keys clock liveness worker-state fail prefetch
-- KEYS: none
-- ARGV: queue, exc_string for the abandoned message (base64 zlib),
--   failure_ttl default, max entries to handle, hb_ttl (optional: when
--   given, nothing is recovered while recovery_held says so, i.e. just after
--   every worker was cut off from Redis), queue retry (optional; the
--   queue's default retry, as in fail.lua)
--   Also forgets workers of this queue whose key has expired (RQ's
--   clean_worker_registry), so rq:workers does not fill with the dead, and
--   recovers executions that a worker holds but wip no longer lists (an
--   RQ 1.13 cleanup removed them). The worker of a recovered execution is
--   unregistered (forget_worker) once it holds no other execution: it is
--   dead, and RQ shows no dead workers. (Its executions set must outlive
--   the recovery of each: on another queue, one whose wip entry RQ 1.13
--   removed is found only there.)
--   Also hands back the parked jobs (prefetch) of workers whose entry in
--   rq:prefetchers expired (outcome 'handed-back').
-- Returns: a flat list of job id, outcome per recovered execution.
local q = ARGV[1]
local out = {}
for _, wk in ipairs(redis.call('SMEMBERS', P .. 'workers:' .. q)) do
  if redis.call('EXISTS', wk) == 0 then
    redis.call('SREM', P .. 'workers:' .. q, wk)
    redis.call('SREM', P .. 'workers', wk)
  end
end
if ARGV[5] and ARGV[5] ~= '' and recovery_held(tonumber(ARGV[5])) then return out end
-- Workers with parked jobs (prefetch) that stopped heart-beating: their
-- parked jobs never started; they go back to the front of their queues.
for _, w in ipairs(redis.call('ZRANGEBYSCORE', PREFETCHERS, '-inf', NOW_F, 'LIMIT', 0, 100)) do
  for _, member in ipairs(unpark_members(w, nil)) do
    table.insert(out, string.match(member, '^(.*):[^:]*$'))
    table.insert(out, 'handed-back')
  end
  redis.call('ZREM', PREFETCHERS, w)
end
local limit = tonumber(ARGV[4])
local members = redis.call('ZRANGEBYSCORE', wip_key(q), '-inf', NOW_F, 'LIMIT', 0, limit)
-- RQ 1.13's registry cleanup (its `rq info`, its workers) drops an expired
-- wip entry of ours without failing the job: it cannot parse 'job:execution'.
-- The worker's executions set still names such a job; find it there.
for _, wk in ipairs(redis.call('SMEMBERS', P .. 'workers:' .. q)) do
  local wek = wk .. ':executions'
  local held = redis.call('SMEMBERS', wek)
  if #held > 0 and #members < limit then
    local scores = redis.call('ZMSCORE', wip_key(q), unpack(held))
    for i, member in ipairs(held) do
      if not scores[i] then
        local id = string.match(member, '^(.*):[^:]*$')
        if id and redis.call('HGET', job_key(id), 'origin') == q then table.insert(members, member) end
      end
    end
  end
end
for _, member in ipairs(members) do
  local id, e = string.match(member, '^(.*):([^:]*)$')
  if id == nil then
    -- an RQ 1.x member (plain job id): no execution to end
    id, e = member, ''
  end
  local worker = redis.call('HGET', execution_key(id, e), 'worker_name')
  if not worker then worker = redis.call('HGET', job_key(id), 'worker_name') or '' end
  -- defer_state: a dead worker's hash is not flipped to 'idle'
  end_execution(id, e, q, worker, true)
  redis.call('ZREM', wip_key(q), member)
  if worker ~= '' then forget_worker(worker) end
  local st = redis.call('HGET', job_key(id), 'status')
  local outcome
  if st == 'finished' or st == 'failed' or st == 'stopped' or st == 'canceled' then
    outcome = 'ignored'   -- terminal already (RQ PR #2466): just drop the entry
  else
    outcome = fail_job(id, '', q, '', 'failed', ARGV[2], '', '', tonumber(ARGV[3]), ARGV[6])
  end
  table.insert(out, id)
  table.insert(out, outcome)
end
return out
