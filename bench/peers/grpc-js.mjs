// The gRPC peer: @grpc/grpc-js, the gRPC server Node services use, serving the lab's own lab.v1.Events from the
// repository's proto/lab/v1/events.proto (loaded at start by @grpc/proto-loader, nothing generated). Subscribe
// sends the history after `after`, then every event as it is made, with the run and head in the initial metadata
// as the lab does. A plain Node HTTP server beside it takes the generator's knobs, since a grpc-js server owns its
// port.
//
//   NODE_ENV=production node bench/peers/grpc-js.mjs --port 3201 --grpc-port 3202 [--paused] [--rate 1]
import { fileURLToPath } from "node:url";
import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";
import { Generator, knobsServer, options } from "./common.mjs";

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

const server = knobsServer(generator);

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
