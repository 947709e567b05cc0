-- wrk script for `tools/bench http`: binary-mode CloudEvents (ce- headers,
-- small JSON body) over keep-alive connections.
--   WRK_DELAY_MS  each connection waits that long before its next request
--                 (wrk's delay() hook): about connections * 1000 / delay
--                 requests per second
--   WRK_PIPELINE  that many requests written back to back per connection
--                 before their answers are read (HTTP/1.1 pipelining); wrk
--                 counts every answer, so Requests/sec is events/s, but its
--                 latency is per batch
wrk.method = "POST"
wrk.body = '{"pipeline":"build","status":"succeeded","n":1}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["ce-specversion"] = "1.0"
wrk.headers["ce-id"] = "bench-0001"
wrk.headers["ce-source"] = "/bench/wrk"
wrk.headers["ce-type"] = "dev.cebridge.bench.v1"
wrk.headers["ce-subject"] = "run%2042"

local delay_ms = tonumber(os.getenv("WRK_DELAY_MS") or "")
if delay_ms ~= nil and delay_ms > 0 then
  function delay()
    return delay_ms
  end
end

local depth = tonumber(os.getenv("WRK_PIPELINE") or "")
if depth ~= nil and depth > 1 then
  local batch
  function init(args)
    local r = {}
    for i = 1, depth do
      r[i] = wrk.format()
    end
    batch = table.concat(r)
  end
  function request()
    return batch
  end
end
