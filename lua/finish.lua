-- finish: records a successful execution (RQ's handle_job_success), releases
-- dependents, then dequeues the worker's next jobs in the same round trip.
-- KEYS: none
-- ARGV: id, execution id, queue, worker, return value (base64 JSON, '' for None),
--   result_ttl default, started (float s), ended (float s), working time (s),
--   then the dequeue tail: count, hb_ttl, exec_ttl, n_queues, queues..., execution ids...
-- Returns: {outcome, next jobs as in dequeue.lua}; outcome is 'finished', or
--   'stale' when this execution had already been recovered as abandoned
--   (nothing is written then).
local id, e, q, worker = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local rv = ARGV[5]
local key = job_key(id)
local wk = worker_key(worker)
-- Idempotent: an execution neither in wip nor with its key left was
-- recorded already (a resend) or recovered as abandoned.
if redis.call('ZREM', wip_key(q), id .. ':' .. e) == 0 and redis.call('EXISTS', execution_key(id, e)) == 0 then
  return { 'stale', dequeue_from_argv(worker, 10, true) }
end
end_execution(id, e, q, worker, true, true)
redis.call('HINCRBY', wk, 'successful_job_count', 1)
redis.call('HINCRBYFLOAT', wk, 'total_working_time', ARGV[9])
local f = redis.call('HMGET', key, 'status', 'result_ttl', 'dependency_ids')
if f[1] then
  local ttl = tonumber(f[2])
  if ttl == nil then ttl = tonumber(ARGV[6]) end
  redis.call('HSET', key, 'status', 'finished', 'ended_at', NOW_ISO, 'last_heartbeat', NOW_ISO)
  local _, had_dependents = release_dependents(id, 'finished')
  if ttl ~= 0 then
    local fields = { 'type', 1, 'worker_name', worker }
    if rv ~= '' then table.insert(fields, 'return_value'); table.insert(fields, rv) end
    table.insert(fields, 'execution_id'); table.insert(fields, e)
    table.insert(fields, 'execution_started_at'); table.insert(fields, ARGV[7])
    table.insert(fields, 'execution_ended_at'); table.insert(fields, ARGV[8])
    redis.call('XADD', results_key(id), 'MAXLEN', '~', 10, '*', unpack(fields))
    if ttl > 0 then
      redis.call('EXPIRE', results_key(id), ttl)
      redis.call('ZADD', finished_key(q), NOW + ttl, id)
    else
      redis.call('PERSIST', results_key(id))
      redis.call('ZADD', finished_key(q), '+inf', id)
    end
  end
  expire_job(id, ttl, had_dependents, f[3] ~= false and f[3] ~= '')
end
return { 'finished', dequeue_from_argv(worker, 10, true) }
