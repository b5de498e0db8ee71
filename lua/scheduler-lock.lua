-- scheduler-lock: acquires free per-queue scheduler locks and extends those
-- this scheduler still owns (RQ extends without checking ownership, which is
-- how its schedulers come to enqueue a job twice).
-- include: keys
-- KEYS: none
-- ARGV: scheduler name, lock ttl (s), release ('1' to give every lock up), queues...
-- Returns: the queues whose lock this scheduler holds now.
local owner, ttl = ARGV[1], tonumber(ARGV[2])
local held = {}
for i = 4, #ARGV do
  local lk = P .. 'scheduler-lock:' .. ARGV[i]
  local cur = redis.call('GET', lk)
  if ARGV[3] == '1' then
    if cur == owner then redis.call('DEL', lk) end
  elseif cur == owner then
    redis.call('EXPIRE', lk, ttl)
    table.insert(held, ARGV[i])
  elseif cur == false then
    redis.call('SET', lk, owner, 'EX', ttl)
    table.insert(held, ARGV[i])
  end
end
return held
