-- include: keys clock ttl reads push dependents worker-state fail exc results
-- Recording ended executions (finish, fail), each at most once.

-- Ends a worker's execution for finish/fail, once: false when it is neither
-- in wip nor has its key left, i.e. it was recorded already (a resend) or
-- recovered as abandoned; the caller then writes nothing ('stale').
local function end_reported_execution(id, e, q, worker)
  if redis.call('ZREM', wip_key(q), id .. ':' .. e) == 0 and redis.call('EXISTS', execution_key(id, e)) == 0 then
    return false
  end
  end_execution(id, e, q, worker, true, true)
  return true
end

-- A finish's positive TTL and its finished-registry score (now + ttl) as
-- text, kept between the ends and calls that share a TTL (the score as
-- now_plus_text's cache keeps it): Redis 7.0 prints every number a script
-- hands to redis.call with snprintf('%.17g'), which was three times per
-- finish.
-- The score keeps the clock's microseconds where RQ writes whole seconds:
-- a second's thousands of finishes would share one score, and a sorted
-- set orders equal scores by member, so each ZADD would compare job ids
-- along the skip list (cold memory, at a busy worker's rate), where a
-- score that grows goes in at the end. Readers lose nothing: RQ reads the
-- score as a float (get_expiration_time) and cleans up by ZREMRANGEBYSCORE
-- up to now, so an entry leaves at most a second later than its job.
local finish_ttl, finish_score = {}, {}
local function finish_ttl_text(ttl)
  if finish_ttl.ttl ~= ttl then
    finish_ttl.ttl, finish_ttl.text = ttl, string.format('%d', ttl)
  end
  return finish_ttl.text, now_plus_text(ttl, finish_score)
end

-- A successful run's entry in the job's results stream (RQ's Result:
-- type 1, the return value when there is one, the execution's times), kept
-- for ttl seconds (none when not positive).
local function add_success_result(id, worker, rv, e, started, ended, ttl, ttl_text)
  -- whole constructors: a table grown field by field is reallocated twice
  local fields
  if rv ~= '' then
    fields = { 'type', '1', 'worker_name', worker, 'return_value', rv, 'execution_id', e,
      'execution_started_at', started, 'execution_ended_at', ended }
  else
    fields = { 'type', '1', 'worker_name', worker, 'execution_id', e,
      'execution_started_at', started, 'execution_ended_at', ended }
  end
  add_result(id, ttl, fields, ttl_text)
end

-- A successful execution (RQ's handle_job_success): results, finished
-- registry, TTLs, dependents. ttl is the job's result_ttl (the worker's
-- default when the job has none; RQ's worker also takes it from the job it
-- holds). flags, also from the job the worker holds: '1' it has
-- dependency_ids, 'r' it had repeats left (RQ's handle_job_success reads
-- repeats_left off that job too); without 'r' the hash's repeats_left is
-- not read, which spares the HGET that scans every field of a job without
-- one. Idempotent (see end_reported_execution). The worker's job counters
-- come as totals with the dequeue tail (write_counts).
local function record_finish(id, e, q, worker, rv, ttl, flags, started, ended)
  ttl = clean_ttl(ttl, DEFAULT_RESULT_TTL)
  local has_deps = string.find(flags, '1', 1, true) ~= nil
  if not end_reported_execution(id, e, q, worker) then return 'stale' end
  local key = job_key(id)
  -- The job may have been deleted while it ran: then only the execution
  -- ends. With a positive ttl, EXPIRE both applies it and tells.
  local exists, ttl_text, score_text
  if ttl > 0 then
    ttl_text, score_text = finish_ttl_text(ttl)
    exists = redis.call('EXPIRE', key, ttl_text) == 1
  else
    exists = redis.call('EXISTS', key) == 1
  end
  if exists then
    local repeats_left = string.find(flags, 'r', 1, true) and hget_num(key, 'repeats_left')
    if repeats_left and repeats_left > 0 then
      -- RQ's Repeat.schedule: the run's result is recorded, the job goes
      -- back to its queue (or is scheduled) and is neither finished nor
      -- expiring; its dependents wait for the last run.
      local intervals = decode_list(redis.call('HGET', key, 'repeat_intervals'))
      local interval = 0
      if #intervals > 0 then
        -- indexed from the remaining count, as RQ: min(left - 1, len - 1)
        local idx = math.min(repeats_left - 1, #intervals - 1)
        interval = tonumber(intervals[idx + 1]) or 0
      end
      redis.call('PERSIST', key)
      redis.call('HSET', key, 'repeats_left', repeats_left - 1, 'ended_at', NOW_ISO, 'last_heartbeat', NOW_ISO)
      add_success_result(id, worker, rv, e, started, ended, -1)
      if interval > 0 then
        schedule_job(id, q, NOW_F + interval)
        return 'scheduled'
      end
      push_job(id, q, false)
      return 'repeated'
    end
    redis.call('HSET', key, 'status', 'finished', 'ended_at', NOW_ISO, 'last_heartbeat', NOW_ISO)
    local had_dependents = release_dependents(id, 'finished')
    if ttl ~= 0 then
      add_success_result(id, worker, rv, e, started, ended, ttl, ttl_text)
      if ttl > 0 then
        redis.call('ZADD', finished_key(q), score_text, id)
      else
        redis.call('ZADD', finished_key(q), '+inf', id)
      end
    end
    if ttl > 0 then
      if had_dependents then redis.call('EXPIRE', dependents_key(id), ttl_text) end
      if has_deps then redis.call('EXPIRE', dependencies_key(id), ttl_text) end
    else
      expire_job(id, ttl, had_dependents, has_deps)
    end
  end
  return 'finished'
end

-- A failed execution (retry-aware, see fail_job); idempotent as record_finish.
local function record_fail(id, e, q, worker, mode, exc_b64, default_failure_ttl, queue_retry, started, ended)
  if not end_reported_execution(id, e, q, worker) then return 'stale' end
  return fail_job(id, e, q, worker, mode, exc_b64, started, ended, tonumber(default_failure_ttl), queue_retry)
end

-- Records one ended execution (record_finish or record_fail with its
-- arguments) so that an error inside it ends this job, and only this one:
-- whatever it wrote stays (Redis does not roll back), the execution is
-- ended if it was not, and the job is failed with the reason, so it is
-- never left 'started' in no registry nor handed back to run again.
-- Returns the record's outcome, or 'script-error' when the job was failed so.
local function record_safely(record, id, e, q, worker, started, ended, ...)
  local ok, outcome = pcall(record, id, e, q, worker, ...)
  if ok then return outcome end
  local reason = type(outcome) == 'table' and tostring(outcome.err) or tostring(outcome)
  local ok2 = pcall(function()
    redis.call('ZREM', wip_key(q), id .. ':' .. e)
    end_execution(id, e, q, worker, true, true)
    local key = job_key(id)
    if redis.call('TYPE', key).ok ~= 'hash' then return end
    redis.call('HSET', key, 'status', 'failed', 'ended_at', NOW_ISO, 'last_heartbeat', NOW_ISO)
    redis.call('EXPIRE', key, ONE_YEAR)
    redis.call('ZADD', failed_key(q), now_plus_text(ONE_YEAR), id)
    local text = 'ScriptError: the end of this execution could not be recorded: ' .. reason
    -- the results key itself may be what failed: the job still ends failed
    pcall(add_result, id, ONE_YEAR, { 'type', '2', 'worker_name', worker or '',
      'exc_string', exc_string(text), 'execution_id', e, 'execution_started_at', started, 'execution_ended_at', ended })
    pcall(release_dependents, id, 'failed')
  end)
  if not ok2 then return 'stale' end
  return 'script-error'
end
