-- per-call: take_clock()

-- Redis' clock is the one clock every process shares, so every score and
-- timestamp written by a script comes from it. Read per call (take_clock):
-- NOW_US microseconds, NOW integer seconds (RQ's score unit), NOW_F float
-- seconds, NOW_ISO and NOW_FS as written into hashes, NOW_MICRO the six
-- digits of NOW_FS's fraction.
local NOW_US, NOW, NOW_F, NOW_ISO, NOW_FS, NOW_MICRO

-- '00' .. '59', for the seconds of utcformat (built without the string
-- library, which a library's load-time code cannot reach).
local TWO_DIGITS = {}
for i = 0, 59 do TWO_DIGITS[i] = (i < 10 and '0' or '') .. i end
-- utcformat's date and hours:minutes part, and the minute it is of: within
-- a minute only the seconds and microseconds change. A library loaded with
-- FUNCTION LOAD keeps both between calls (EVAL runs this prelude anew).
local iso_minute, iso_prefix = -1, ''

-- RQ's utcformat of an instant in µs. micro_digits: its microseconds as
-- TIME gives them (digits, no padding), when the caller has them.
local function utcformat(us, micro_digits)
  -- % instead of math.floor: an operator, not a global function call, and
  -- exact here (every value is a non-negative integer below 2^53)
  local micro = us % 1000000
  local secs = (us - micro) / 1000000
  local s = secs % 60
  local minute = (secs - s) / 60
  if minute ~= iso_minute then
    local rem = secs % 86400
    local days = (secs - rem) / 86400
    local mi = (rem - s) / 60 % 60
    local h = (rem - s - mi * 60) / 3600
    -- days since 1970-01-01 to a civil date (H. Hinnant's algorithm)
    local z = days + 719468
    local doe = z % 146097
    local era = (z - doe) / 146097
    local t = doe - (doe - doe % 1460) / 1460 + (doe - doe % 36524) / 36524 - (doe - doe % 146096) / 146096
    local yoe = (t - t % 365) / 365
    local y = yoe + era * 400
    local doy = doe - (365 * yoe + (yoe - yoe % 4) / 4 - (yoe - yoe % 100) / 100)
    local mp = (5 * doy + 2 - (5 * doy + 2) % 153) / 153
    local d = doy - (153 * mp + 2 - (153 * mp + 2) % 5) / 5 + 1
    local mo = mp < 10 and mp + 3 or mp - 9
    if mo <= 2 then y = y + 1 end
    iso_prefix = string.format('%04d-%02d-%02dT%02d:%02d:', y, mo, d, h, mi)
    iso_minute = minute
  end
  local frac = micro_digits and string.sub('00000' .. micro_digits, -6) or string.format('%06d', micro)
  return iso_prefix .. TWO_DIGITS[s] .. '.' .. frac .. 'Z'
end

local function fmt_float(f)
  return string.format('%.6f', f)
end

-- now + secs as a score's text, to the microsecond, from TIME's digits when
-- secs is whole: Redis 7.0 prints a number handed to redis.call with
-- '%.17g', which costs more than the command it feeds (a ZADD's score).
-- cache (optional, a table of the caller's): a call site that writes such
-- a score on every call keeps the whole seconds there, printed once a
-- second (a function library keeps it between calls), and joins on the
-- microseconds; string.format is the costly part.
local function now_plus_text(secs, cache)
  if secs % 1 ~= 0 then return string.format('%.17g', NOW_F + secs) end
  if not cache then return string.format('%d', NOW + secs) .. '.' .. NOW_MICRO end
  if cache.secs ~= secs or cache.now ~= NOW then
    cache.secs, cache.now, cache.us = secs, NOW, nil
    cache.whole = string.format('%d', NOW + secs)
  end
  if cache.us ~= NOW_US then
    cache.us = NOW_US
    cache.text = cache.whole .. '.' .. NOW_MICRO
  end
  return cache.text
end

local function take_clock()
  local t = redis.call('TIME')
  NOW_US = tonumber(t[1]) * 1000000 + tonumber(t[2])
  NOW = tonumber(t[1])
  NOW_F = NOW_US / 1000000
  NOW_ISO = utcformat(NOW_US, t[2])
  -- fmt_float(NOW_F) to the digit (TIME's microseconds are the six decimals),
  -- built from TIME's own digits: a quarter of the cost of string.format's
  -- float conversion, paid by every call.
  NOW_MICRO = string.sub('00000' .. t[2], -6)
  NOW_FS = t[1] .. '.' .. NOW_MICRO
end
