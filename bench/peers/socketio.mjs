// The socket.io peer: a plain Node HTTP server for the generator knobs, and a socket.io Server with its default
// options (both transports allowed, 25 s ping interval, no compression) that broadcasts every event to everyone
// with io.emit. The load tool connects as a socket.io client that goes straight to the WebSocket transport.
//
//   NODE_ENV=production node bench/peers/socketio.mjs --port 3201 [--paused] [--rate 1] [--payload-bytes 0]
import http from "node:http";
import { Server } from "socket.io";
import { Generator, options, unixMicros } from "./common.mjs";

const opts = options();

function json(res, status, body) {
  res.writeHead(status, { "Content-Type": "application/json", "x-lab-epoch": generator.epoch });
  res.end(JSON.stringify(body));
}

const server = http.createServer((req, res) => {
  const { pathname } = new URL(req.url, "http://peer");
  if (pathname === "/api/generator" && req.method === "GET") return json(res, 200, generator.settings);
  if (pathname === "/api/generator" && req.method === "POST") {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      let update;
      try {
        update = JSON.parse(body);
      } catch {
        return json(res, 400, { error: "invalid_json", message: "body is not JSON" });
      }
      const error = generator.update(update);
      if (error) return json(res, 400, { error: "invalid_field", message: error });
      json(res, 200, generator.settings);
    });
    return;
  }
  if (pathname === "/api/time" && req.method === "GET") return json(res, 200, { server_time: unixMicros() });
  json(res, 404, { error: "not_found", message: "no such route" });
});

const io = new Server(server);

const generator = new Generator(opts, (event) => io.emit("event", event));

io.on("connection", (socket) => {
  socket.emit("hello", { epoch: generator.epoch, head_seq: generator.headSeq });
});

server.listen(opts.port, opts.host, () => {
  console.log(`socketio ready pid=${process.pid} url=http://${opts.host}:${opts.port} env=${process.env.NODE_ENV ?? ""}`);
});

for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));
