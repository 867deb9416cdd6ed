// A node ws client that runs battery.js against the echo server at argv[2], with
// permessage-deflate, plus the cases a browser cannot run: a Ping with a payload
// and messages sent in fragments. Prints the results as one JSON line.
"use strict";

const WebSocket = require("ws");
const { runBattery } = require("./battery.js");

const PING_PAYLOAD = Buffer.from("interop ping \x00\x01\xfe\xff", "latin1");
const FRAGMENTS_TEXT = ["fragment one, ", "zwei — ", "三, ", "🎉 end"];
const FRAGMENTS_BINARY = [
  Buffer.from([0, 1, 2]),
  Buffer.alloc(0),
  Buffer.alloc(300, 0xff),
  Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
];

function sendFragments(ws, fragments, binary) {
  fragments.forEach((fragment, index) => {
    ws.send(fragment, { binary, fin: index === fragments.length - 1 });
  });
}

const extraCases = [
  {
    name: "ping with payload",
    check: ({ ws }) =>
      new Promise((resolve) => {
        ws.once("pong", (data) =>
          resolve(data.equals(PING_PAYLOAD) ? "" : `pong carried ${data.toString("hex")}`),
        );
        ws.ping(PING_PAYLOAD);
      }),
  },
  {
    name: "fragmented text",
    check: async ({ ws, recv, compare }) => {
      sendFragments(ws, FRAGMENTS_TEXT, false);
      return compare(FRAGMENTS_TEXT.join(""), await recv());
    },
  },
  {
    name: "fragmented binary",
    check: async ({ ws, recv, compare, concat }) => {
      sendFragments(ws, FRAGMENTS_BINARY, true);
      return compare(concat(FRAGMENTS_BINARY), await recv());
    },
  },
];

const ws = new WebSocket(process.argv[2], { perMessageDeflate: true, maxPayload: 64 << 20 });
const agent = `node ${process.version}, ws ${require("ws/package.json").version}`;
runBattery(ws, { agent, extraCases }).then(
  (results) => {
    process.stdout.write(`${JSON.stringify(results)}\n`);
  },
  (error) => {
    process.stdout.write(`${JSON.stringify({ agent, error: String(error.stack || error) })}\n`);
  },
);
