-- empty: RQ's Queue.empty: removes every id from the queue and deletes those
-- jobs and their dependents sets. Registries, scheduled and deferred jobs stay.
-- include: keys
-- KEYS: none
-- ARGV: queue
-- Returns: the number of ids removed from the queue.
local qk = queue_key(ARGV[1])
local ids = redis.call('LRANGE', qk, 0, -1)
redis.call('DEL', qk)
for i = 1, #ids, 500 do
  local keys = {}
  for j = i, math.min(i + 499, #ids) do
    table.insert(keys, job_key(ids[j]))
    table.insert(keys, dependents_key(ids[j]))
  end
  redis.call('DEL', unpack(keys))
end
return #ids
