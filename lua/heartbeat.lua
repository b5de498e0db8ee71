-- heartbeat: a worker is alive; extends its key, its wip entries and their
-- execution keys, and each running job's last_heartbeat.
-- KEYS: none
-- ARGV: worker, worker key ttl, hb_ttl (wip score offset), exec_ttl, state
--   ('' keeps it), then per running execution: queue, job id, execution id
-- Returns: the 'job:execution' members that are no longer in wip: they were
--   recovered elsewhere (e.g. after a long stall) and must not be finished here.
local worker = ARGV[1]
local wk = worker_key(worker)
local hb_ttl, exec_ttl = tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('HSET', wk, 'last_heartbeat', NOW_ISO)
if ARGV[5] ~= '' then redis.call('HSET', wk, 'state', ARGV[5]) end
redis.call('EXPIRE', wk, tonumber(ARGV[2]))
redis.call('EXPIRE', worker_executions_key(worker), tonumber(ARGV[2]))
local lost = {}
for i = 6, #ARGV, 3 do
  local q, id, e = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local member = id .. ':' .. e
  if redis.call('ZADD', wip_key(q), 'XX', 'CH', NOW_F + hb_ttl, member) == 0 and not redis.call('ZSCORE', wip_key(q), member) then
    table.insert(lost, member)
  else
    redis.call('HSET', execution_key(id, e), 'last_heartbeat', fmt_float(NOW_F))
    redis.call('EXPIRE', execution_key(id, e), exec_ttl)
    redis.call('ZADD', executions_key(id), NOW + exec_ttl + 60, e)
    redis.call('EXPIRE', executions_key(id), exec_ttl + 60)
    if redis.call('EXISTS', job_key(id)) == 1 then
      redis.call('HSET', job_key(id), 'last_heartbeat', NOW_ISO)
    end
  end
end
return lost
