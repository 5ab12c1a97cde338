-- POST /partners with a fresh email each time (sendInvite false).
local counter = 0
local threads = 0
setup = function(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
init = function(args)
  auth = "Bearer " .. args[1]
  run = args[2]
end
request = function()
  counter = counter + 1
  local body = string.format(
    '{"email":"w4-%s-%d-%d@bench.example","name":"Bench","sendInvite":false}', run, tid, counter)
  return wrk.format("POST", "/partners",
    {["Content-Type"] = "application/json", ["Authorization"] = auth}, body)
end
