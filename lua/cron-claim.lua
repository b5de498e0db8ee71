-- cron-claim: claims one fire time of a cron entry, so that of any number of
-- `openvle-rq cron` processes exactly one enqueues it (src/engine/cron/scheduler.ts).
-- The entry's state is a hash <state key> {next, last, owner, spec}; fire
-- times are integer epoch milliseconds, kept as the caller's strings.
-- A claimed fire time sits in the zset <state key>:pending (score = lease
-- expiry, ms) until its job is enqueued; a claim whose lease ran out (its
-- process died in between) is taken over with mode 'recover'.
-- include: clock
-- KEYS: none
-- ARGV: mode, then
--   mode 'advance': state key, expected next ('' = no state yet), new next,
--     fire time ('' = just move next, nothing to enqueue), lease ms, owner,
--     state ttl (s), spec
--   mode 'recover': state key, fire time, lease ms, owner
-- Returns: { outcome, next, Redis' now (ms) }. outcome:
--   'claimed'  the caller must enqueue the fire time's job, then ZREM it from
--              <state key>:pending;
--   'advanced' next was set, nothing to enqueue;
--   'lost'     another process got there first (next = the stored value, ''
--              when there is none);
--   'early'    the fire time is still in the future by Redis' clock.
local mode, key = ARGV[1], ARGV[2]
local pending = key .. ':pending'
local now_ms = math.floor(NOW_US / 1000)
-- Redis' now in ms, as the reply's integer string.
local now_ms_text = string.format('%.0f', now_ms)
-- Tolerated clock difference between a cron process and Redis.
local EARLY_MS = 250

local function stored_next()
  local cur = redis.call('HGET', key, 'next')
  if cur == false then return '' end
  return cur
end

if mode == 'advance' then
  local expected, new_next, fire, lease, owner, ttl, spec = ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6]), ARGV[7], tonumber(ARGV[8]), ARGV[9]
  local cur = stored_next()
  if cur ~= expected then return { 'lost', cur, now_ms_text } end
  if fire ~= '' and tonumber(fire) > now_ms + EARLY_MS then return { 'early', cur, now_ms_text } end
  redis.call('HSET', key, 'next', new_next, 'spec', spec)
  local outcome = 'advanced'
  if fire ~= '' then
    redis.call('HSET', key, 'last', fire, 'owner', owner)
    redis.call('ZADD', pending, now_ms + lease, fire)
    redis.call('EXPIRE', pending, ttl)
    outcome = 'claimed'
  end
  redis.call('EXPIRE', key, ttl)
  return { outcome, new_next, now_ms_text }
elseif mode == 'recover' then
  local fire, lease, owner = ARGV[3], tonumber(ARGV[4]), ARGV[5]
  local score = redis.call('ZSCORE', pending, fire)
  if score == false or tonumber(score) > now_ms then return { 'lost', stored_next(), now_ms_text } end
  redis.call('ZADD', pending, now_ms + lease, fire)
  redis.call('HSET', key, 'owner', owner)
  return { 'claimed', stored_next(), now_ms_text }
end
return redis.error_reply('cron-claim: unknown mode ' .. tostring(mode))
