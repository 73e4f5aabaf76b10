// The webhook bench's receiver: a plain Node.js HTTP server that reads each POST's body, answers 204 and counts it.
// It verifies nothing (the lab's tests do that); it is here to be cheap and the same for both senders.
// `GET /count` answers {"count": N, "bytes": B}.
//
//   node bench/peers/webhook-receiver.mjs --port 3261
import http from "node:http";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "3261" },
    host: { type: "string", default: "127.0.0.1" },
  },
});
let count = 0;
let bytes = 0;

const server = http.createServer((req, res) => {
  if (req.method === "GET" && req.url === "/count") {
    res.writeHead(200, { "content-type": "application/json" });
    return res.end(JSON.stringify({ count, bytes }));
  }
  if (req.method !== "POST") {
    res.writeHead(405);
    return res.end();
  }
  req.on("data", (chunk) => (bytes += chunk.length));
  req.on("end", () => {
    count += 1;
    res.writeHead(204);
    res.end();
  });
});
server.listen(Number(values.port), values.host, () => {
  console.log(`webhook-receiver ready pid=${process.pid} url=http://${values.host}:${values.port}`);
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));
