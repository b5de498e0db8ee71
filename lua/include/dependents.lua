-- include: keys reads push cancel
-- Releasing (or canceling) a job's dependents when it ends.

-- Is every dependency of `id` done? `parent` is the job whose outcome is
-- being recorded; its new status is passed since the caller decides it.
local function dependencies_met(id, parent, parent_status, allow_failures)
  for _, dep in ipairs(set_members(dependencies_key(id))) do
    local st
    if dep == parent then st = parent_status else st = job_status(dep) end
    -- A dependency whose hash is gone counts as done, as in RQ.
    if st ~= false and st ~= 'finished' and not (allow_failures and st == 'failed') then
      return false
    end
  end
  return true
end

-- Called when `parent` reaches a terminal status. Enqueues every dependent
-- whose dependencies are now all met (RQ's enqueue_dependents); when the
-- parent did not finish, dependents that asked for it are canceled, down the
-- chain, instead of waiting forever. Returns whether `parent` had dependents.
local function release_dependents(parent, parent_status)
  -- most jobs have none: no work list for them
  local first = set_members(dependents_key(parent))
  if #first == 0 then return false end
  local pending = { { parent, parent_status, nil } }
  while #pending > 0 do
    local item = table.remove(pending)
    local pid, pstatus, root = item[1], item[2], item[3]
    local dkey = dependents_key(pid)
    local members = first or set_members(dkey)
    first = nil
    for _, dep in ipairs(members) do
      local f = redis.pcall('HMGET', job_key(dep), 'status', 'origin', 'allow_dependency_failures', 'dependency_failure_policy')
      if f.err ~= nil then f = { false } end -- a key of another type: as if gone
      local st, q = f[1], f[2]
      if st == false then
        redis.call('SREM', dkey, dep)
      elseif st == 'deferred' then
        local allow = f[3] == '1'
        if pstatus == 'finished' or (pstatus == 'failed' and allow) then
          if dependencies_met(dep, pid, pstatus, allow) then
            redis.call('ZREM', deferred_key(q), dep)
            push_job(dep, q, enqueue_at_front(dep))
            redis.call('SREM', dkey, dep)
          end
        elseif f[4] == 'cancel' then
          local origin = root or pid
          local reason = 'canceled: dependency ' .. pid .. ' ended ' .. pstatus
          if origin ~= pid then reason = reason .. ' (chain started by ' .. origin .. ')' end
          cancel_job(dep, reason)
          redis.call('SREM', dkey, dep)
          table.insert(pending, { dep, 'canceled', origin })
        end
      else
        -- already queued, running or done: nothing to release
        redis.call('SREM', dkey, dep)
      end
    end
  end
  return true
end
