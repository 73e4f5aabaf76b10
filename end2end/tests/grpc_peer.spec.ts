import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test, type APIRequestContext } from "@playwright/test";
import { createFileRegistry, fromBinary, type Message } from "@bufbuild/protobuf";
import type { GenMessage, GenService } from "@bufbuild/protobuf/codegenv2";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-node";
import * as protobuf from "protobufjs";
import { FileDescriptorSet } from "protobufjs/ext/descriptor";
import { setGenerator, stats } from "./helpers";

// A second gRPC-web peer that nobody here wrote: Connect's Node client (connect-node over HTTP/1.1), run from
// Playwright's Node side with no page. The page's lane and the server share the Rust framing code, so a bug in it
// would agree with itself; this client frames, reads trailers and maps status codes its own way.
// It learns the service from the repository's events.proto at run time (protobufjs parses it, @bufbuild/protobuf
// builds the descriptors), so nothing is generated or checked in and a change to the .proto reaches it at once.

type SubscribeRequest = Message<"lab.v1.SubscribeRequest"> & { after?: bigint; client: string };
type Text = Message<"lab.v1.Text"> & { text: string };
type Event = Message<"lab.v1.Event"> & {
  seq: bigint;
  emittedAt: bigint;
  body: { case: "message" | "broadcast"; value: Text } | { case: "tick" | "audio" | "gap" | undefined; value?: Message };
};
type PublishRequest = Message<"lab.v1.PublishRequest"> & { text: string };
type PublishReply = Message<"lab.v1.PublishReply"> & { seq: bigint };
type EventsService = GenService<{
  subscribe: { methodKind: "server_streaming"; input: GenMessage<SubscribeRequest>; output: GenMessage<Event> };
  publish: { methodKind: "unary"; input: GenMessage<PublishRequest>; output: GenMessage<PublishReply> };
}>;

function eventsService(): EventsService {
  const source = readFileSync(join(__dirname, "../../proto/lab/v1/events.proto"), "utf8");
  // keepCase: descriptors carry the .proto's own field names, as protoc's do.
  const root = protobuf.parse(source, { keepCase: true }).root;
  root.resolveAll();
  const set = fromBinary(FileDescriptorSetSchema, FileDescriptorSet.encode(root.toDescriptor("proto3")).finish());
  // protobufjs names a field's message type relative to its message; createFileRegistry, like protoc, wants full names.
  for (const file of set.file) {
    for (const message of file.messageType) {
      for (const field of message.field) {
        if (!field.typeName || field.typeName.startsWith(".")) continue;
        const resolved = root.lookupType(`${file.package}.${message.name}`).fields[field.name].resolvedType;
        if (!resolved) throw new Error(`events.proto: ${message.name}.${field.name} has no type`);
        field.typeName = resolved.fullName;
      }
    }
  }
  const service = createFileRegistry(set).getService("lab.v1.Events");
  if (!service) throw new Error("events.proto declares no lab.v1.Events");
  return service as EventsService;
}

const events = eventsService();

function connect(baseURL: string | undefined) {
  return createClient(events, createGrpcWebTransport({ baseUrl: baseURL!, httpVersion: "1.1" }));
}

type Polled = { seq: number; text?: string };

async function poll(request: APIRequestContext, after: number): Promise<{ epoch: string; events: Polled[] }> {
  const response = await request.get(`/api/poll?after=${after}`);
  expect(response.status()).toBe(200);
  const body: { epoch: string; events: { seq: number; payload: { text?: string } }[] } = await response.json();
  return { epoch: body.epoch, events: body.events.map((event) => ({ seq: event.seq, text: event.payload.text })) };
}

function polledShape(event: Event): Polled {
  const body = event.body;
  return { seq: Number(event.seq), text: body.case === "message" || body.case === "broadcast" ? body.value.text : undefined };
}

async function nextEvent(stream: AsyncIterator<Event>): Promise<Event> {
  const next = await stream.next();
  if (next.done) throw new Error("the call ended before the event it was expected to deliver");
  return next.value;
}

/** The call's failure as a ConnectError, or the test fails: anything else means the client misread the wire. */
async function failure(call: Promise<unknown>): Promise<ConnectError> {
  const error = await call.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ConnectError);
  return error as ConnectError;
}

test.beforeEach(async ({ request }) => {
  expect((await request.delete("/api/faults")).status()).toBe(204);
  // Only this file's messages flow, so the stream and /api/poll can be compared event for event.
  await setGenerator(request, { paused: true });
});

test.afterEach(async ({ request }) => {
  await setGenerator(request, { paused: false });
});

test("Publish over gRPC-web: each answered seq is the same event /api/poll lists", async ({ baseURL, request }) => {
  const client = connect(baseURL);
  // The server is shared: its numbers start wherever the earlier tests left them. Polling from the head also stays
  // inside poll's default page of 1,000 however long the run has been.
  const head = (await stats(request)).head_seq;
  const published: Polled[] = [];
  for (const text of ["peer one", "peer two", "peer three"]) {
    const reply = await client.publish({ text });
    published.push({ seq: Number(reply.seq), text });
  }
  expect(published[0].seq).toBeGreaterThan(head);
  const polled = await poll(request, head);
  for (const event of published) expect(polled.events).toContainEqual(event);
});

test("Subscribe after N gets exactly what /api/poll?after=N lists, in order, then aborts cleanly", async ({ baseURL, request }) => {
  const client = connect(baseURL);
  const after = (await stats(request)).head_seq;
  for (const text of ["sub one", "sub two", "sub three"]) await client.publish({ text });
  const polled = await poll(request, after);
  expect(polled.events.length).toBeGreaterThanOrEqual(3);

  const abort = new AbortController();
  let epoch: string | null = null;
  const stream = client
    .subscribe({ after: BigInt(after) }, { signal: abort.signal, onHeader: (headers) => (epoch = headers.get("x-lab-epoch")) })
    [Symbol.asyncIterator]();
  const received: Polled[] = [];
  while (received.length < polled.events.length) received.push(polledShape(await nextEvent(stream)));
  expect(received).toEqual(polled.events);
  expect(epoch).toBe(polled.epoch);

  abort.abort();
  // The client's own CANCELLED, not a transport error or a hang.
  expect((await failure(stream.next())).code).toBe(Code.Canceled);
  await expect.poll(async () => (await stats(request)).grpc.open_connections).toBe(0);
});

test("a fault drop ends the call with UNAVAILABLE (14)", async ({ baseURL, request }) => {
  const client = connect(baseURL);
  const id = `grpc_peer-${Date.now().toString(36)}`;
  const { seq } = await client.publish({ text: "before the drop" });
  const abort = new AbortController();
  const stream = client.subscribe({ after: seq - 1n, client: id }, { signal: abort.signal })[Symbol.asyncIterator]();
  try {
    // Its first event proves the server holds the call under this id before the fault looks for it.
    expect(polledShape(await nextEvent(stream))).toEqual({ seq: Number(seq), text: "before the drop" });

    const drop = await request.post("/api/faults/drop", { data: { client: id } });
    expect(drop.status()).toBe(200);
    expect((await drop.json()).dropped_connections).toBe(1);
    const error = await failure(stream.next());
    expect(error.code).toBe(Code.Unavailable);
    expect(error.rawMessage).toContain("dropped by a fault");
  } finally {
    abort.abort();
  }
});

test("Publish with empty text fails with INVALID_ARGUMENT (3)", async ({ baseURL }) => {
  const error = await failure(connect(baseURL).publish({ text: "" }));
  expect(error.code).toBe(Code.InvalidArgument);
});
