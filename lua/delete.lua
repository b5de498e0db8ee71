-- delete: RQ's Job.delete: removes the job from its queue and every registry
-- of its origin (or a worker's parking list, see drop_parked), its
-- executions, results, hash and dependency sets.
-- include: keys prefetch
-- KEYS: none
-- ARGV: id, delete_dependents ('1' deletes dependents too, recursively)
-- Returns: the number of jobs deleted.
local deleted = 0
local pending = { ARGV[1] }
while #pending > 0 do
  local id = table.remove(pending)
  local key = job_key(id)
  local q = redis.call('HGET', key, 'origin')
  if ARGV[2] == '1' then
    for _, d in ipairs(redis.call('SMEMBERS', dependents_key(id))) do table.insert(pending, d) end
  end
  if q then
    if redis.call('LREM', queue_key(q), 0, id) == 0 and redis.call('HGET', key, 'status') == 'queued' then drop_parked(id) end
    for _, r in ipairs({ finished_key(q), failed_key(q), deferred_key(q), scheduled_key(q), canceled_key(q) }) do
      redis.call('ZREM', r, id)
    end
    for _, e in ipairs(redis.call('ZRANGE', executions_key(id), 0, -1)) do
      redis.call('ZREM', wip_key(q), id .. ':' .. e)
      redis.call('DEL', execution_key(id, e))
    end
  end
  deleted = deleted + redis.call('DEL', key)
  redis.call('DEL', dependents_key(id), dependencies_key(id), results_key(id), executions_key(id))
end
return deleted
