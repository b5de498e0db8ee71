-- unpark: a worker with prefetch hands back parked jobs it will not start
-- (warm or cold stop, suspension, the queue it parked them from no longer
-- wanted): each member still in its parking list goes back to the front of
-- its queue, in the order it was parked. Safe to run twice: a member
-- handed back already is no longer in the list.
-- include: prefetch
-- KEYS: none
-- ARGV: worker, then 'job:execution' members (none: the whole list)
-- Returns: the members handed back.
local members = nil
if #ARGV > 1 then
  members = {}
  for i = 2, #ARGV do members[i - 1] = ARGV[i] end
end
return unpark_members(ARGV[1], members)
