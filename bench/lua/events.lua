-- POST /events: a sale with a fresh externalEventId, for a click id read from the file named by
-- the second script argument (one a line; the first is the key). Thread t of n (third and fourth: run tag
-- and thread count) takes clicks t, t + n, t + 2n, ...: every click (a customer of its own) is
-- used once while the file lasts, so each sale is a first sale and accrues a commission.
local clicks = {}
local counter = 0
local threads = 0
setup = function(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
init = function(args)
  for line in io.lines(args[2]) do clicks[#clicks + 1] = line end
  auth = "Bearer " .. args[1]
  run = args[3]
  nthreads = tonumber(args[4])
end
request = function()
  local i = (counter * nthreads + tid) % #clicks + 1
  counter = counter + 1
  local body = string.format(
    '{"externalEventId":"%s-%d-%d","type":"sale","value":"25.00","currency":"USD","clickId":"%s"}',
    run, tid, counter, clicks[i])
  return wrk.format("POST", "/events",
    {["Content-Type"] = "application/json", ["Authorization"] = auth}, body)
end
