// A node ws echo server with permessage-deflate on 127.0.0.1 and a free port.
// Prints JSON lines: {"event": "listening", "port": N} once, then for every
// connection that closed {"event": "closed", "offered", "accepted", "close_code",
// "close_reason"}: its Sec-WebSocket-Extensions request and response headers and
// the Close frame the server received.
"use strict";

const { WebSocketServer } = require("ws");

function print(record) {
  process.stdout.write(`${JSON.stringify(record)}\n`);
}

const server = new WebSocketServer({
  host: "127.0.0.1",
  port: 0,
  perMessageDeflate: true,
  maxPayload: 64 << 20,
});

const accepted = new WeakMap();
server.on("headers", (headers, request) => {
  const line = headers.find((header) => /^sec-websocket-extensions:/i.test(header));
  accepted.set(request, line ? line.slice(line.indexOf(":") + 1).trim() : null);
});

server.on("connection", (ws, request) => {
  ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on("close", (code, reason) =>
    print({
      event: "closed",
      offered: request.headers["sec-websocket-extensions"] || null,
      accepted: accepted.get(request) || null,
      close_code: code,
      close_reason: reason.toString(),
    }),
  );
});

server.on("listening", () => print({ event: "listening", port: server.address().port }));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
