// The socket.io peer: a plain Node HTTP server for the generator knobs, and a socket.io Server with its default
// options (both transports allowed, 25 s ping interval, no compression) that broadcasts every event to everyone
// with io.emit. The load tool connects as a socket.io client that goes straight to the WebSocket transport.
//
//   NODE_ENV=production node bench/peers/socketio.mjs --port 3201 [--paused] [--rate 1] [--payload-bytes 0]
import { Server } from "socket.io";
import { Generator, knobsServer, options } from "./common.mjs";

const opts = options();

// The generator needs `io` to send, and the server needs the generator: `io` is filled in just below.
let io;
const generator = new Generator(opts, (event) => io.emit("event", event));
const server = knobsServer(generator);
io = new Server(server);

io.on("connection", (socket) => {
  socket.emit("hello", { epoch: generator.epoch, head_seq: generator.headSeq });
});

server.listen(opts.port, opts.host, () => {
  console.log(`socketio ready pid=${process.pid} url=http://${opts.host}:${opts.port} env=${process.env.NODE_ENV ?? ""}`);
});

for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));
