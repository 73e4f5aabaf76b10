// The gRPC peer: @grpc/grpc-js, the gRPC server Node services use, serving the lab's own lab.v1.Events from the
// repository's proto/lab/v1/events.proto (loaded at start by @grpc/proto-loader, nothing generated). Subscribe
// sends the history after `after`, then every event as it is made, with the run and head in the initial metadata
// as the lab does. A plain Node HTTP server beside it takes the generator's knobs, since a grpc-js server owns its
// port.
//
//   NODE_ENV=production node bench/peers/grpc-js.mjs --port 3201 --grpc-port 3202 [--paused] [--rate 1]
import http from "node:http";
import { fileURLToPath } from "node:url";
import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";
import { Generator, options, unixMicros } from "./common.mjs";

const opts = options();
const protoPath = fileURLToPath(new URL("../../proto/lab/v1/events.proto", import.meta.url));
const definition = protoLoader.loadSync(protoPath, { keepCase: true, longs: Number, defaults: true, oneofs: true });
const lab = grpc.loadPackageDefinition(definition).lab.v1;

// Open Subscribe calls.
const calls = new Set();

function message(event) {
  return { seq: event.seq, emitted_at: event.emitted_at, tick: { n: event.payload.n, filler: event.payload.filler } };
}

const generator = new Generator(opts, (event) => {
  const bytes = message(event);
  for (const call of calls) call.write(bytes);
});

function subscribe(call) {
  const metadata = new grpc.Metadata();
  metadata.set("x-lab-epoch", generator.epoch);
  metadata.set("x-lab-head-seq", String(generator.headSeq));
  call.sendMetadata(metadata);
  // `after` is proto3 `optional`: absent means from now on.
  if (call.request._after === "after") {
    const { events, gap } = generator.after(Number(call.request.after));
    if (gap) call.write({ seq: 0, emitted_at: 0, gap: { from: gap.from, to: gap.to } });
    for (const event of events) call.write(message(event));
  }
  calls.add(call);
  const forget = () => calls.delete(call);
  call.on("cancelled", forget);
  call.on("close", forget);
  call.on("error", forget);
}

function publish(call, callback) {
  const event = generator.publish("tick", { n: 0, filler: call.request.text });
  callback(null, { seq: event.seq });
}

const grpcServer = new grpc.Server();
grpcServer.addService(lab.Events.service, { subscribe, publish });

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

grpcServer.bindAsync(`${opts.host}:${opts.grpcPort}`, grpc.ServerCredentials.createInsecure(), (error) => {
  if (error) {
    console.error(`grpc-js could not bind ${opts.host}:${opts.grpcPort}: ${error.message}`);
    process.exit(1);
  }
  server.listen(opts.port, opts.host, () => {
    console.log(
      `grpc-js ready pid=${process.pid} url=http://${opts.host}:${opts.port} grpc=${opts.host}:${opts.grpcPort} env=${process.env.NODE_ENV ?? ""}`,
    );
  });
});

for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));
