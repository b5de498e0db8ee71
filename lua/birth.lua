-- birth: registers a worker as RQ's register_birth does.
-- include: keys clock
-- KEYS: none
-- ARGV: worker, key ttl, n_queues, queues..., then field, value pairs
-- Returns: 'ok', or an error reply when a live worker has that name.
local worker = ARGV[1]
local wk = worker_key(worker)
local nq = tonumber(ARGV[3])
if redis.call('EXISTS', wk) == 1 and redis.call('HEXISTS', wk, 'death') == 0 then
  -- The same worker (its birth_token field, random per Worker) asking again
  -- is a resend of this call whose reply a dropped connection lost: it is
  -- registered already.
  local token
  for i = 4 + nq, #ARGV - 1, 2 do
    if ARGV[i] == 'birth_token' then token = ARGV[i + 1] end
  end
  if token ~= nil and redis.call('HGET', wk, 'birth_token') == token then return 'ok' end
  return redis.error_reply('There exists an active worker named ' .. worker .. ' already')
end
redis.call('DEL', wk, worker_executions_key(worker))
local fields = { 'birth', NOW_ISO, 'last_heartbeat', NOW_ISO, 'state', 'started' }
for i = 4 + nq, #ARGV do table.insert(fields, ARGV[i]) end
redis.call('HSET', wk, unpack(fields))
redis.call('SADD', P .. 'workers', wk)
for i = 1, nq do redis.call('SADD', P .. 'workers:' .. ARGV[3 + i], wk) end
redis.call('EXPIRE', wk, tonumber(ARGV[2]))
return 'ok'
