-- wrk script for `tools/bench http`: binary-mode CloudEvents (ce- headers,
-- small JSON body) over keep-alive connections. With WRK_DELAY_MS set, each
-- connection waits that long before its next request (wrk's delay() hook),
-- which caps the rate at about connections * 1000 / delay per second.
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
