-- requeue: puts a failed, stopped or canceled job back on its queue (RQ's
-- FailedJobRegistry.requeue): out of the registry, started_at/ended_at and
-- exc_info cleared, status queued. retries_left is kept, as in RQ.
-- include: keys call-token push
-- KEYS: none
-- ARGV: id, at_front ('1' or '0'), then the call token, its ttl and tokens to
--   forget (see call_token: a resend is answered 'queued' again)
-- Returns: 'queued', or an error reply when the job is missing or in no
--   failed/canceled registry.
local seen, remember = call_token(3)
if seen then return seen end
local id = ARGV[1]
local key = job_key(id)
local q = redis.call('HGET', key, 'origin')
if q == false then return redis.error_reply('NoSuchJobError: no job ' .. id) end
local removed = redis.call('ZREM', failed_key(q), id) + redis.call('ZREM', canceled_key(q), id)
if removed == 0 then
  return redis.error_reply('InvalidJobOperation: job ' .. id .. ' is not in the failed or canceled registry of ' .. q)
end
redis.call('HSET', key, 'started_at', '', 'ended_at', '')
redis.call('HDEL', key, 'exc_info', 'cancel_reason')
redis.call('PERSIST', key)
push_job(id, q, ARGV[2] == '1')
remember('queued')
return 'queued'
