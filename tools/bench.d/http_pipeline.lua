-- wrk script for `tools/bench http`, pipelined case: the same binary-mode
-- CloudEvent as http_binary.lua, WRK_PIPELINE (default 16) requests written
-- back to back on each keep-alive connection before their answers are read
-- (HTTP/1.1 pipelining). wrk counts every answer as one request, so
-- Requests/sec is events/s; its latency is per batch of answers.
wrk.method = "POST"
wrk.body = '{"pipeline":"build","status":"succeeded","n":1}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["ce-specversion"] = "1.0"
wrk.headers["ce-id"] = "bench-0001"
wrk.headers["ce-source"] = "/bench/wrk"
wrk.headers["ce-type"] = "dev.cebridge.bench.v1"
wrk.headers["ce-subject"] = "run%2042"

local batch

function init(args)
  local depth = tonumber(os.getenv("WRK_PIPELINE") or "") or 16
  local r = {}
  for i = 1, depth do
    r[i] = wrk.format()
  end
  batch = table.concat(r)
end

function request()
  return batch
end
