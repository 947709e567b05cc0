// Interop of the cebridge HTTP plugin with the official CloudEvents JS SDK
// (npm "cloudevents", pinned in package.json).
//
//   SDK emitter (binary, structured) and SDK-serialised batch
//       -> cebridge http source -> file sink: every attribute arrives intact;
//   cebridge http sink (binary, structured, batch)
//       -> a Node receiver parsing with the SDK's HTTP.toEvent: the same.
//
// Usage: node test_interop.js CEBRIDGE_BINARY PLUGIN_DIR
// Starts cebridge on ephemeral ports (read from its log) and the receiver on
// 127.0.0.1:0, stops cebridge by PID. No sleeps: waits poll a condition
// until a deadline.
"use strict";
const assert = require("assert");
const child = require("child_process");
const fs = require("fs");
const http = require("http");
const os = require("os");
const path = require("path");
const { CloudEvent, HTTP, Mode, emitterFor, httpTransport } = require("cloudevents");

const [bin, pluginDir] = process.argv.slice(2);
if (!bin || !pluginDir) {
  console.error("usage: test_interop.js CEBRIDGE_BINARY PLUGIN_DIR");
  process.exit(2);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ceb-interop-"));
let daemon = null;
let log = "";

function cleanup() {
  if (daemon && daemon.exitCode === null) daemon.kill("SIGKILL");
  fs.rmSync(dir, { recursive: true, force: true });
}

async function until(what, cond, ms = 15000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = cond();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n--- cebridge log ---\n${log}`);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 5));
  }
}

// ---- the events ----------------------------------------------------------

// The SDK (10.0.0) puts attribute values in ce- headers as they are,
// without the binding's percent-encoding, so events it sends in binary mode
// keep to printable ASCII without '%' (Node refuses other header bytes).
function events(prefix, asciiOnly) {
  const common = {
    source: "https://tekton.example/pipelines/ci",
    subject: asciiOnly ? "spaces / \"quotes\" & more" : "Euro € and spaces / \"quotes\" 100%",
    time: "2024-05-06T07:08:09.123Z",
    dataschema: "https://example.com/schema.json",
  };
  const all = [
    new CloudEvent({ ...common, id: `${prefix}-json`, type: "dev.tekton.event.pipelinerun.successful.v1",
      datacontenttype: "application/json", data: { pipeline: "build", n: 3, ok: true, list: [1, "two"] },
      strext: asciiOnly ? "x y z" : "x y%z é", intext: 42, boolext: true }),
    new CloudEvent({ ...common, id: `${prefix}-text`, type: "dev.example.text",
      datacontenttype: "text/plain", data: "hello, wörld" }),
    new CloudEvent({ id: `${prefix}-min`, source: "/min", type: "dev.example.min" }),
    new CloudEvent({ ...common, id: `${prefix}-bin`, type: "dev.example.binary",
      datacontenttype: "application/octet-stream", data: Buffer.from([0, 1, 2, 250, 255]) }),
  ];
  // ... and its binary emitter cannot send an event without data (it writes
  // an undefined body).
  return asciiOnly ? all.filter((e) => e.data !== undefined) : all;
}

const ATTRS = ["specversion", "id", "source", "type", "subject", "time", "dataschema",
  "datacontenttype", "strext", "intext", "boolext"];

// Values as text: binary mode carries every extension as a string, and a
// time may come back in another (equal) RFC 3339 spelling.
function norm(name, v) {
  if (v === undefined || v === null) return undefined;
  if (name === "time") return new Date(v).toISOString();
  return String(v);
}

function dataBytes(ev) {
  if (ev.data_base64 !== undefined) return Buffer.from(ev.data_base64, "base64");
  const d = ev.data;
  if (d === undefined || d === null) return Buffer.alloc(0);
  if (Buffer.isBuffer(d) || d instanceof Uint8Array) return Buffer.from(d);
  if (typeof d === "string") return Buffer.from(d);
  return Buffer.from(JSON.stringify(d));
}

function dataValue(ev) {
  const b = dataBytes(ev);
  const ct = ev.datacontenttype || "";
  if (ct.includes("json") && b.length > 0) return JSON.parse(b.toString());
  return b.toString("base64");
}

// `pct`: the SDK's HTTP.toEvent (10.0.0) does not undo the binding's
// percent-encoding of ce- header values (http-protocol-binding 3.1.3.2), so
// what cebridge's binary mode sends correctly encoded is decoded here.
function compare(where, sent, got, pct = false) {
  for (const a of ATTRS) {
    let g = norm(a, got[a]);
    if (pct && g !== undefined && a !== "time") g = decodeURIComponent(g);
    assert.strictEqual(g, norm(a, sent[a]), `${where} ${sent.id}: attribute ${a}`);
  }
  assert.deepStrictEqual(dataValue(got), dataValue(sent), `${where} ${sent.id}: data`);
}

// ---- cebridge ------------------------------------------------------------

async function startDaemon(receiverPort) {
  const conf = {
    sources: {
      in: { plugin: "http", listen: "127.0.0.1:0", path: "/" },
      fwd: { plugin: "http", listen: "127.0.0.1:0", path: "/fwd" },
    },
    sinks: {
      out: { plugin: "file", path: path.join(dir, "out.jsonl") },
      hbin: { plugin: "http", url: `http://127.0.0.1:${receiverPort}/binary`, mode: "binary" },
      hstr: { plugin: "http", url: `http://127.0.0.1:${receiverPort}/structured`, mode: "structured" },
      hbatch: { plugin: "http", url: `http://127.0.0.1:${receiverPort}/batch`, mode: "batch",
        batch: { max_events: 4, max_wait: "50ms" } },
    },
    routes: {
      store: { from: "in", to: "out" },
      forward: { from: "fwd", to: ["hbin", "hstr", "hbatch"] },
    },
  };
  const cfg = path.join(dir, "10-interop.json");
  fs.writeFileSync(cfg, JSON.stringify(conf, null, 2));
  daemon = child.spawn(bin, ["-c", cfg, "--plugin-dir", pluginDir, "--log-level", "info"],
    { stdio: ["ignore", "ignore", "pipe"] });
  daemon.stderr.setEncoding("utf-8");
  daemon.stderr.on("data", (s) => { log += s; });
  const ports = {};
  await until("cebridge to listen", () => {
    for (const line of log.split("\n")) {
      const m = /component=source\/(\w+) .*listening on 127\.0\.0\.1:(\d+) /.exec(line);
      if (m) ports[m[1]] = Number(m[2]);
    }
    if (daemon.exitCode !== null) throw new Error(`cebridge exited (${daemon.exitCode}):\n${log}`);
    return ports.in && ports.fwd;
  });
  return ports;
}

async function stopDaemon() {
  const done = new Promise((r) => daemon.once("exit", r));
  daemon.kill("SIGTERM");
  await done;
}

// ---- the SDK sends to cebridge ------------------------------------------

async function sendAll(url, evs, modes) {
  for (const mode of modes) {
    if (mode === "batch") {
      // The SDK has no batch emitter: its JSON serialisation of each event in
      // an array, posted with its HTTP transport.
      const body = JSON.stringify(evs.map((e) => e.toJSON()));
      const res = await httpTransport(url)({
        headers: { "content-type": "application/cloudevents-batch+json; charset=utf-8" }, body });
      assert.match(res.body, /"accepted":4/, `batch answer: ${res.body}`);
      continue;
    }
    const emit = emitterFor(httpTransport(url), { mode: mode === "binary" ? Mode.BINARY : Mode.STRUCTURED });
    for (const e of evs) {
      const res = await emit(e);
      assert.match(res.body, /"accepted":1/, `${mode} ${e.id} answer: ${res.body}`);
    }
  }
}

async function main() {
  // receiver for the sink half
  const received = [];   // { path, event }
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      // structured and batch bodies as text: given a Buffer, HTTP.toEvent
      // (10.0.0) does not parse them and makes up a new event
      const raw = Buffer.concat(chunks);
      const body = /cloudevents/.test(req.headers["content-type"] || "") ? raw.toString("utf-8") : raw;
      let got;
      try {
        got = HTTP.toEvent({ headers: req.headers, body });
      } catch (err) {
        received.push({ path: req.url, error: String(err) });
        res.writeHead(400).end();
        return;
      }
      for (const e of Array.isArray(got) ? got : [got]) received.push({ path: req.url, event: e });
      res.writeHead(202).end();
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const rport = server.address().port;
  const ports = await startDaemon(rport);

  // 1. SDK -> cebridge -> file sink
  const modes = ["binary", "structured", "batch"];
  const sent = {};
  for (const mode of modes) {
    const evs = events(`in-${mode}`, mode === "binary");
    await sendAll(`http://127.0.0.1:${ports.in}/`, evs, [mode]);
    for (const e of evs) sent[e.id] = e;
  }
  const outFile = path.join(dir, "out.jsonl");
  const lines = await until("the file sink to write every event", () => {
    if (!fs.existsSync(outFile)) return null;
    const ls = fs.readFileSync(outFile, "utf-8").split("\n").filter((l) => l.length > 0);
    return ls.length >= Object.keys(sent).length ? ls : null;
  });
  const stored = {};
  for (const l of lines) {
    const ev = JSON.parse(l);
    stored[ev.id] = ev;
  }
  for (const id of Object.keys(sent)) {
    assert.ok(stored[id], `event ${id} missing from the file sink`);
    compare("source", sent[id], stored[id]);
  }
  console.log(`ok: ${Object.keys(sent).length} SDK events (binary, structured, batch) intact in the file sink`);

  // 2. cebridge http sink -> receiver with HTTP.toEvent
  const fwd = events("fwd", false);
  await sendAll(`http://127.0.0.1:${ports.fwd}/fwd`, fwd, ["structured"]);
  await until("the receiver to get every event in the three modes", () =>
    received.filter((r) => r.event).length >= fwd.length * 3 || received.some((r) => r.error));
  const errors = received.filter((r) => r.error);
  assert.deepStrictEqual(errors, [], "HTTP.toEvent refused what the sink sent");
  for (const p of ["/binary", "/structured", "/batch"]) {
    for (const e of fwd) {
      const got = received.find((r) => r.path === p && r.event.id === e.id);
      assert.ok(got, `${p}: event ${e.id} not received; got ${JSON.stringify(received.map((r) => [r.path, r.event && r.event.id]))}`);
      compare(`sink ${p}`, e, got.event, p === "/binary");
    }
  }
  console.log(`ok: ${fwd.length} events through the http sink in binary, structured and batch mode parse with HTTP.toEvent`);

  await stopDaemon();
  server.close();
}

main().then(() => { cleanup(); process.exit(0); }, (err) => {
  console.error(`FAIL: ${err.stack || err}`);
  cleanup();
  process.exit(1);
});
