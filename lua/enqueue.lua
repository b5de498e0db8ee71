-- enqueue: writes one or more jobs and queues, defers or schedules each.
-- include: keys clock ttl reads call-token push cancel
-- KEYS: none (keys are built from ids and queue names, as RQ's Lua does)
-- ARGV: n, then per job: spec (JSON), data (zlib bytes; binary, so kept out of the JSON),
--   then the call token, its ttl (s) and tokens to forget (see call_token):
--   a resend returns the first run's statuses instead of pushing every job
--   a second time.
--   spec = { id, origin, fields = {name = value, ...}, atFront?, ttl?, unique?,
--            deps? = [ids], scheduleAt? = float epoch seconds }
-- Returns: one status per job: 'queued', 'deferred', 'scheduled', 'canceled'
--   (a dependency had already failed and the job asked to be canceled then)
--   or 'duplicate' (unique job whose id exists; nothing was written).
local n = tonumber(ARGV[1])
local seen, remember = call_token(2 + n * 2)
if seen then return seen end
local out = {}
for i = 0, n - 1 do
  local spec = cjson.decode(ARGV[2 + i * 2])
  local data = ARGV[3 + i * 2]
  local id, q = spec.id, spec.origin
  local key = job_key(id)
  if spec.unique and redis.call('EXISTS', key) == 1 then
    table.insert(out, 'duplicate')
  else
    local args = { 'data', data, 'created_at', NOW_ISO, 'origin', q }
    for k, v in pairs(spec.fields) do
      table.insert(args, k); table.insert(args, tostring(v))
    end
    redis.call('HSET', key, unpack(args))
    redis.call('SADD', P .. 'queues', queue_key(q))
    local status
    local unmet, failed_dep = false, nil
    local deps = spec.deps or {}
    local allow = spec.fields.allow_dependency_failures == '1'
    for _, dep in ipairs(deps) do
      local st = job_status(dep)
      if st ~= false and st ~= 'finished' and not (allow and st == 'failed') then
        unmet = true
        if st == 'failed' or st == 'stopped' or st == 'canceled' then failed_dep = dep .. ' ended ' .. st end
      end
    end
    if unmet then
      for _, dep in ipairs(deps) do
        redis.call('SADD', dependents_key(dep), id)
        redis.call('SADD', dependencies_key(id), dep)
      end
      if failed_dep ~= nil and spec.fields.dependency_failure_policy == 'cancel' then
        -- RQ would leave it deferred forever; the job asked not to wait.
        redis.call('HSET', key, 'status', 'deferred')
        cancel_job(id, 'canceled: dependency ' .. failed_dep)
        status = 'canceled'
      else
        redis.call('HSET', key, 'status', 'deferred')
        redis.call('ZADD', deferred_key(q), NOW, id)
        status = 'deferred'
      end
    elseif spec.scheduleAt then
      schedule_job(id, q, tonumber(spec.scheduleAt))
      status = 'scheduled'
    else
      push_job(id, q, spec.atFront)
      status = 'queued'
    end
    if spec.ttl and tonumber(spec.ttl) > 0 and status ~= 'canceled' then expire_job(id, tonumber(spec.ttl)) end
    table.insert(out, status)
  end
end
remember(out)
return out
