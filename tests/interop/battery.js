// The echo battery in JavaScript, for peers that are JavaScript WebSocket clients:
// Chromium (loaded by the test page) and node ws (required by ws_client.js).
//
// runBattery(ws, options) takes a WebSocket that is connecting or open, against an
// echo server, runs the cases of interop_battery.py under the same names, closes
// with 1000 and a reason, and resolves to {agent, extensions, cases: [{name, ok,
// detail}]}. A browser cannot send a Ping nor choose how a message is fragmented,
// so those cases come from options.extraCases, which only ws_client.js supplies.
(function (root) {
  "use strict";

  const TEXT_CASES = [
    ["text ascii", "Hello, WebSocket! 0123456789 ~!@#$%^&*()"],
    ["text multi-byte", "Grüße, Ωμέγα, 世界, Привет, ‏עברית"],
    ["text emoji", "🎉 👩‍💻 🚀 🏳️‍🌈 𝄞"],
    ["text empty", ""],
    [
      "text 256 KiB compressible",
      "sansws interop, compressible text. ".repeat(7500).slice(0, 256 * 1024),
    ],
  ];
  const BINARY_SIZES = [
    ["binary 0 B", 0],
    ["binary 125 B", 125],
    ["binary 126 B", 126],
    ["binary 65535 B", 65535],
    ["binary 65536 B", 65536],
    ["binary 1 MiB", 1 << 20],
    ["binary 16 MiB", 16 << 20],
  ];
  const BURST_COUNT = 1000;
  const CLOSE_CODE = 1000;
  const CLOSE_REASON = "bye, interop";
  // Hang guard per case, so that a hang reads as a failed case, not a timeout.
  const CASE_GUARD_MS = 60000;

  // Incompressible, reproducible bytes (xorshift32 seeded by the size).
  function binaryPayload(size) {
    const bytes = new Uint8Array(size);
    let state = (size ^ 0x9e3779b9) >>> 0 || 1;
    for (let i = 0; i < size; i++) {
      state ^= state << 13;
      state >>>= 0;
      state ^= state >>> 17;
      state ^= state << 5;
      state >>>= 0;
      bytes[i] = state & 0xff;
    }
    return bytes;
  }

  // "" when received is expected (type and content), else why not.
  function compare(expected, received) {
    if (typeof expected === "string") {
      if (typeof received !== "string") return `expected text, received ${typeof received}`;
      if (received === expected) return "";
      return `expected ${expected.length} UTF-16 units, received ${received.length}`;
    }
    if (!(received instanceof ArrayBuffer)) return "expected binary, received text";
    const got = new Uint8Array(received);
    if (got.length !== expected.length) {
      return `expected length ${expected.length}, received length ${got.length}`;
    }
    for (let i = 0; i < got.length; i++) {
      if (got[i] !== expected[i]) return `first difference at offset ${i} of ${got.length}`;
    }
    return "";
  }

  function concat(chunks) {
    const whole = new Uint8Array(chunks.reduce((n, chunk) => n + chunk.length, 0));
    let offset = 0;
    for (const chunk of chunks) {
      whole.set(chunk, offset);
      offset += chunk.length;
    }
    return whole;
  }

  // Messages in arrival order; recv() waits for the next one.
  function inbox(ws) {
    const queue = [];
    const waiters = [];
    let closed = null;
    ws.addEventListener("message", (event) => {
      if (waiters.length) waiters.shift().resolve(event.data);
      else queue.push(event.data);
    });
    ws.addEventListener("close", (event) => {
      closed = new Error(`connection closed: ${event.code} ${JSON.stringify(event.reason)}`);
      while (waiters.length) waiters.shift().reject(closed);
    });
    return function recv() {
      if (queue.length) return Promise.resolve(queue.shift());
      if (closed) return Promise.reject(closed);
      return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
    };
  }

  function guard(promise) {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer in ${CASE_GUARD_MS} ms`)), CASE_GUARD_MS);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }

  async function runBattery(ws, options = {}) {
    ws.binaryType = "arraybuffer";
    const recv = inbox(ws);
    const closeEvent = new Promise((resolve) => ws.addEventListener("close", resolve));
    await new Promise((resolve, reject) => {
      if (ws.readyState === 1) resolve();
      ws.addEventListener("open", resolve);
      ws.addEventListener("close", (event) => reject(new Error(`not opened: ${event.code}`)));
    });

    const cases = [];
    async function run(name, check) {
      let detail;
      try {
        detail = await guard(check());
      } catch (error) {
        detail = String((error && error.message) || error) || "failed";
      }
      cases.push({ name, ok: !detail, detail: detail || "" });
    }
    async function echo(message) {
      ws.send(message);
      return compare(message, await recv());
    }

    for (const [name, text] of TEXT_CASES) await run(name, () => echo(text));
    for (const [name, size] of BINARY_SIZES) await run(name, () => echo(binaryPayload(size)));
    await run(`burst of ${BURST_COUNT} in order`, async () => {
      const sent = [];
      for (let i = 0; i < BURST_COUNT; i++) {
        sent.push(`burst ${String(i).padStart(4, "0")}`);
        ws.send(sent[i]);
      }
      const received = [];
      for (let i = 0; i < BURST_COUNT; i++) received.push(await recv());
      const i = received.findIndex((got, index) => got !== sent[index]);
      return i < 0 ? "" : `message ${i}: sent ${sent[i]}, received ${received[i]}`;
    });
    for (const extra of options.extraCases || []) {
      await run(extra.name, () => extra.check({ ws, recv, compare, concat }));
    }
    await run("permessage-deflate negotiated", async () =>
      ws.extensions.includes("permessage-deflate") ? "" : `extensions: ${JSON.stringify(ws.extensions)}`,
    );
    await run(`close ${CLOSE_CODE} with reason`, async () => {
      ws.close(CLOSE_CODE, CLOSE_REASON);
      const event = await closeEvent;
      if (event.code === CLOSE_CODE && event.reason === CLOSE_REASON && event.wasClean) return "";
      return `this side saw close ${event.code} ${JSON.stringify(event.reason)}, clean: ${event.wasClean}`;
    });
    return { agent: options.agent || "", extensions: ws.extensions, cases };
  }

  const api = { runBattery, binaryPayload, compare, concat };
  if (typeof module !== "undefined" && module.exports) module.exports = api;
  else Object.assign(root, api);
})(typeof globalThis !== "undefined" ? globalThis : this);
