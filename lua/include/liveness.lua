-- include: keys clock
-- Whether every worker lost Redis at once (recovery waits then).

-- Not an RQ key: when some worker of ours last heart-beat, and until when
-- recovery is held after a silence of all of them (see recovery_held).
local LIVENESS = P .. 'liveness'

-- Every heartbeat notes that a worker is alive. When none had for longer
-- than hb_ttl, Redis or the network was away from all of them (or all died):
-- recovery waits two hb_ttl more, so that every live worker reconnects and
-- heart-beats before its running jobs could be taken for abandoned.
local function note_heartbeat(hb_ttl)
  local last = tonumber(redis.call('HGET', LIVENESS, 'last'))
  if last and NOW_F - last > hb_ttl then redis.call('HSET', LIVENESS, 'hold', fmt_float(NOW_F + 2 * hb_ttl)) end
  redis.call('HSET', LIVENESS, 'last', NOW_FS)
  redis.call('EXPIRE', LIVENESS, 86400)
end

-- True while recovery must wait (see note_heartbeat). A recovery pass that
-- comes first after the silence (one queued or resent while the connection
-- was down) starts the hold itself.
local function recovery_held(hb_ttl)
  local f = redis.call('HMGET', LIVENESS, 'last', 'hold')
  local last, hold = tonumber(f[1]), tonumber(f[2])
  if last and NOW_F - last > hb_ttl then
    redis.call('HSET', LIVENESS, 'hold', fmt_float(NOW_F + 2 * hb_ttl))
    return true
  end
  return hold ~= nil and NOW_F < hold
end
