-- include: keys worker-state take prefetch
-- The dequeue tail of a worker's calls (dequeue, finish, fail, complete).

-- Shared ARGV tail of dequeue.lua, finish.lua, fail.lua and complete.lua:
-- ['counts', successful, failed, working time,] count, hb_ttl, exec_ttl,
-- n_queues, queues..., exec ids... (or the prefetch tail, see
-- prefetch_from_argv). 'counts' carries the worker's totals when it sends
-- them (write_counts).
-- settle: the caller ended an execution with defer_state; settle the
-- worker's state unless new jobs made it busy. first_run: the caller
-- recorded an end (not stale), so this is no resend (see park_jobs).
local function dequeue_from_argv(worker, start, settle, first_run)
  if ARGV[start] == 'counts' then
    write_counts(worker, ARGV[start + 1], ARGV[start + 2], ARGV[start + 3])
    start = start + 4
  end
  if ARGV[start] == 'prefetch' then return prefetch_from_argv(worker, start, settle, first_run) end
  local count = tonumber(ARGV[start])
  if count == nil or count <= 0 then
    if settle then settle_worker_state(worker) end
    return {}
  end
  if redis.call('EXISTS', P .. 'suspended') == 1 then
    if settle then settle_worker_state(worker, 'suspended') end
    if redis.call('EXISTS', worker_key(worker)) == 1 then redis.call('HSET', worker_key(worker), 'state', 'suspended') end
    return { 'suspended' }
  end
  local hb_ttl = tonumber(ARGV[start + 1])
  local exec_ttl = tonumber(ARGV[start + 2])
  local nq = tonumber(ARGV[start + 3])
  local queues = {}
  for i = 1, nq do queues[i] = ARGV[start + 3 + i] end
  local exec_ids = {}
  for i = start + 4 + nq, #ARGV do table.insert(exec_ids, ARGV[i]) end
  if count > #exec_ids then count = #exec_ids end
  local out = dequeue_jobs(worker, queues, exec_ids, count, hb_ttl, exec_ttl)
  if settle and #out == 0 then settle_worker_state(worker) end
  return out
end
