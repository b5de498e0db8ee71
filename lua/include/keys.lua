-- Key names. Keys are RQ's: the prefix is always 'rq:'.
-- Scripts build job and registry keys from ids, as RQ's own Lua does; this
-- is fine on a standalone Redis or Sentinel, not on Redis Cluster.

local P = 'rq:'

local function job_key(id) return P .. 'job:' .. id end
local function dependents_key(id) return P .. 'job:' .. id .. ':dependents' end
-- RQ builds this one with a double colon; Python reads it so, so must we.
local function dependencies_key(id) return P .. 'job::' .. id .. ':dependencies' end
local function queue_key(q) return P .. 'queue:' .. q end
local function wip_key(q) return P .. 'wip:' .. q end
local function finished_key(q) return P .. 'finished:' .. q end
local function failed_key(q) return P .. 'failed:' .. q end
local function deferred_key(q) return P .. 'deferred:' .. q end
local function scheduled_key(q) return P .. 'scheduled:' .. q end
local function canceled_key(q) return P .. 'canceled:' .. q end
local function results_key(id) return P .. 'results:' .. id end
local function execution_key(id, e) return P .. 'execution:' .. id .. ':' .. e end
local function executions_key(id) return P .. 'executions:' .. id end
local function worker_key(w) return P .. 'worker:' .. w end
local function worker_executions_key(w) return P .. 'worker:' .. w .. ':executions' end
-- Not RQ keys: set by an idle worker of ours so that enqueue knows to wake it.
local function waiting_key(q) return P .. 'waiting:' .. q end
local function wake_channel(q) return P .. 'wake:' .. q end
local function scheduled_channel(q) return P .. 'scheduled-wake:' .. q end
