-- cancel: RQ's Job.cancel: status canceled, out of its queue and registries,
-- into rq:canceled:<q>, kept without a TTL.
-- include: keys call-token cancel dependents
-- KEYS: none
-- ARGV: id, enqueue_dependents ('1': dependents count the job as done, as RQ's
--   enqueue_dependents=True; otherwise only dependents whose policy is
--   'cancel' react, by being canceled too), then the call token, its ttl and
--   tokens to forget (see call_token: a resend is answered 'canceled' again)
-- Returns: 'canceled', or an error reply when the job is missing or already canceled.
local seen, remember = call_token(3)
if seen then return seen end
local id = ARGV[1]
local st = redis.call('HGET', job_key(id), 'status')
if st == false then return redis.error_reply('NoSuchJobError: no job ' .. id) end
if st == 'canceled' then return redis.error_reply('InvalidJobOperation: job ' .. id .. ' is already canceled') end
cancel_job(id, nil)
if ARGV[2] == '1' then
  release_dependents(id, 'finished')
else
  release_dependents(id, 'canceled')
end
remember('canceled')
return 'canceled'
