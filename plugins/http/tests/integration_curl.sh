#!/bin/sh
# Integration: curl -> cebridge (http source) -> file sink, both ack modes,
# binary, structured and batch. Usage: integration_curl.sh CEBRIDGE_BINARY
# Starts the daemon on an ephemeral port and stops it by PID.
set -eu
BIN=$1
DIR=$(mktemp -d)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$DIR"; }
trap cleanup EXIT INT TERM
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$DIR/10-http.json" <<JSON
{
  "sources": { "web":  { "plugin": "http", "listen": "127.0.0.1:$PORT" },
               "sync": { "plugin": "http", "listen": "127.0.0.1:$PORT", "path": "/sync", "ack": "delivered" } },
  "sinks":   { "out": { "plugin": "file", "path": "$DIR/out.jsonl" } },
  "routes":  { "all": { "from": ["web", "sync"], "to": "out" } }
}
JSON
"$BIN" --check -c "$DIR" >/dev/null
"$BIN" -c "$DIR" 2>"$DIR/log" &
PID=$!
i=0
until curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null; do
  i=$((i+1)); [ $i -lt 100 ] || { echo "daemon did not start"; cat "$DIR/log"; exit 1; }
  sleep 0.1
done
status() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
expect() { want=$1; shift; got=$(status "$@"); [ "$got" = "$want" ] || { echo "FAIL: want $want got $got: $*"; cat "$DIR/log"; exit 1; }; }

expect 202 "http://127.0.0.1:$PORT/" -H 'ce-specversion: 1.0' -H 'ce-id: b1' -H 'ce-source: /curl' \
  -H 'ce-type: dev.test.binary' -H 'ce-subject: Euro%20%E2%82%AC' -H 'Content-Type: application/json' -d '{"n":1}'
expect 202 "http://127.0.0.1:$PORT/" -H 'Content-Type: application/cloudevents+json' \
  -d '{"specversion":"1.0","id":"s1","source":"/curl","type":"dev.test.structured","data":{"n":2}}'
expect 202 "http://127.0.0.1:$PORT/" -H 'Content-Type: application/cloudevents-batch+json' \
  -d '[{"specversion":"1.0","id":"a1","source":"/curl","type":"dev.test.batch"},{"specversion":"1.0","id":"a2","source":"/curl","type":"dev.test.batch"}]'
expect 202 "http://127.0.0.1:$PORT/sync" -H 'ce-specversion: 1.0' -H 'ce-id: d1' -H 'ce-source: /curl' \
  -H 'ce-type: dev.test.delivered' -H 'Content-Type: text/plain' -d 'hello'
expect 400 "http://127.0.0.1:$PORT/" -H 'ce-specversion: 0.3' -H 'ce-id: x' -H 'ce-source: /curl' -H 'ce-type: t' -d ''
expect 415 "http://127.0.0.1:$PORT/" -H 'Content-Type: text/plain' -d 'hi'
expect 405 -X DELETE "http://127.0.0.1:$PORT/"
expect 200 "http://127.0.0.1:$PORT/readyz"

# Clients that pipeline requests and reset the connection before reading the
# answers: writing those answers fails with EPIPE, which costs the connection,
# never the daemon (SIGPIPE is ignored; kill -PIPE checks that directly).
python3 - "$PORT" <<'PY'
import socket, struct, sys
port = int(sys.argv[1])
req = b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
for _ in range(20):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(req * 500)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
PY
kill -PIPE "$PID"
expect 200 "http://127.0.0.1:$PORT/healthz"
kill -0 "$PID" || { echo "FAIL: the daemon died of SIGPIPE"; cat "$DIR/log"; exit 1; }

# ack: delivered answered only after the file sink wrote it: it is there now.
grep -q '"id":"d1"' "$DIR/out.jsonl" || { echo "FAIL: delivered event not in the sink"; exit 1; }
kill "$PID"; wait "$PID" || true; PID=
for id in b1 s1 a1 a2 d1; do
  grep -q "\"id\":\"$id\"" "$DIR/out.jsonl" || { echo "FAIL: event $id missing"; cat "$DIR/out.jsonl"; exit 1; }
done
grep -q '"subject":"Euro €"' "$DIR/out.jsonl" || { echo "FAIL: percent-decoding"; exit 1; }
[ "$(wc -l < "$DIR/out.jsonl")" -eq 5 ] || { echo "FAIL: expected 5 events"; cat "$DIR/out.jsonl"; exit 1; }
echo "ok: 5 events through cebridge"
