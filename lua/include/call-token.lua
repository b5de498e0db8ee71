-- include: keys
-- Answers a resent call as its first run was answered.

-- Makes a call safe to resend: ioredis resends a command whose reply a
-- dropped connection lost. ARGV[at] is the call's token ('' for none),
-- ARGV[at + 1] how long its answer is kept (s), then tokens of earlier calls
-- whose replies arrived, forgotten now (src/engine/call-token.ts). Returns
-- the answer a first run of this call stored, or nil and a function that
-- stores this run's answer. Not an RQ key: rq:call:<token>.
local function call_token(at)
  local token = ARGV[at]
  if token == nil or token == '' then return nil, function() end end
  local key = P .. 'call:' .. token
  local seen = redis.call('GET', key)
  if seen then return cjson.decode(seen), nil end
  for i = at + 2, #ARGV do redis.call('DEL', P .. 'call:' .. ARGV[i]) end
  local ttl = tonumber(ARGV[at + 1])
  return nil, function(answer) redis.call('SET', key, cjson.encode(answer), 'EX', ttl) end
end
