"""A gRPC client of lab.v1.Events written with PyPI's grpcio, as a peer that shares no code with the lab: it has no
generated code and never reads the .proto file, but learns the service from the server's grpc.reflection.v1 and
builds its message classes from what that answers.

    grpc_client.py services ADDR
    grpc_client.py subscribe ADDR [--after N] [--count K] [--client ID] [--timeout S]
    grpc_client.py publish ADDR TEXT
    grpc_client.py raw ADDR METHOD_PATH HEX_BODY

ADDR is host:port, reached as cleartext HTTP/2. Each prints JSON lines:
  services   {"services": [full names]}, then {"methods": [{"name", "input", "output", "server_streaming"}]}
             for lab.v1.Events.
  subscribe  {"metadata": {initial metadata}}, then one line per event, {"seq", "emitted_at", "kind", ...} (a gap
             counts as one), and after K of them cancels the call and prints {"cancelled": true}. A stream that
             ends first prints {"status": "NAME", "details": "..."}. Without --after the request leaves `after`
             unset (only what comes next), which is not the same as --after 0.
  publish    {"seq": N}, or {"status", "details"} when the call fails. --header-bytes N adds a header that long.
  raw        sends HEX_BODY as it is (already serialized) to a unary method path such as /lab.v1.Events/Publish:
             {"ok_bytes": "hex"} or {"status", "details"}.
A failed call's status is output, exit 0 (the tests assert on it); anything else that goes wrong (reflection
unavailable, a service or method missing) is a message on stderr and exit status 1.
"""

import argparse
import base64
import json
import sys

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from grpc_reflection.v1alpha import reflection_pb2 as v1alpha

SERVICE = "lab.v1.Events"
WAIT = 10.0  # seconds any unary call or reflection request may take


class Failure(Exception):
    pass


def out(line):
    print(json.dumps(line), flush=True)


def status(err):
    out({"status": err.code().name, "details": err.details() or ""})


def connect(addr):
    # Tests only ever dial loopback: a proxy from the environment must not take the call elsewhere.
    return grpc.insecure_channel(addr, options=[("grpc.enable_http_proxy", 0)])


def v1_reflection_messages():
    # grpcio-reflection ships v1alpha's messages only. v1's are the very same messages under another package, so
    # v1alpha's descriptor, renamed, gives real grpc.reflection.v1 classes without a .proto or generated code.
    file = descriptor_pb2.FileDescriptorProto()
    v1alpha.DESCRIPTOR.CopyToProto(file)
    file.name, file.package = "grpc/reflection/v1/reflection.proto", "grpc.reflection.v1"
    file.ClearField("options")
    file.ClearField("service")  # called by path, below
    for message in file.message_type:
        for field in message.field:
            if field.HasField("type_name"):
                field.type_name = field.type_name.replace(".grpc.reflection.v1alpha.", ".grpc.reflection.v1.")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return [message_factory.GetMessageClass(pool.FindMessageTypeByName("grpc.reflection.v1." + name))
            for name in ("ServerReflectionRequest", "ServerReflectionResponse")]


class Reflection:
    def __init__(self, channel):
        self.request, response = v1_reflection_messages()
        self.call = channel.stream_stream("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
                                          request_serializer=self.request.SerializeToString,
                                          response_deserializer=response.FromString)

    def ask(self, **request):
        # One stream per question: the questions are few, and no answer then waits on another.
        try:
            answers = list(self.call(iter([self.request(**request)]), timeout=WAIT))
        except grpc.RpcError as err:
            raise Failure("reflection (v1) failed: %s %s" % (err.code().name, err.details()))
        if len(answers) != 1:
            raise Failure("reflection answered %r with %d messages" % (request, len(answers)))
        answer = answers[0]
        if answer.WhichOneof("message_response") == "error_response":
            error = answer.error_response
            raise Failure("reflection: %r: code %d %s" % (request, error.error_code, error.error_message))
        return answer

    def services(self):
        return [service.name for service in self.ask(list_services="").list_services_response.service]

    def service(self, name):
        """The service's descriptor, in a pool of the files that declare it and everything they import."""
        sent = {}

        def receive(answer):
            for raw in answer.file_descriptor_response.file_descriptor_proto:
                file = descriptor_pb2.FileDescriptorProto.FromString(raw)
                sent.setdefault(file.name, file)

        pool, added = descriptor_pool.DescriptorPool(), set()

        def add(file_name):
            if file_name in added:
                return
            # A server may leave out imports (or ones sent before), so those are asked for by name.
            if file_name not in sent:
                receive(self.ask(file_by_filename=file_name))
            if file_name not in sent:
                raise Failure("reflection did not send %s" % file_name)
            for dependency in sent[file_name].dependency:
                add(dependency)
            pool.Add(sent[file_name])
            added.add(file_name)

        receive(self.ask(file_containing_symbol=name))
        for file_name in list(sent):
            add(file_name)
        try:
            return pool.FindServiceByName(name)
        except KeyError:
            raise Failure("reflection's files do not declare %s" % name)


class Method:
    """One method of the service, callable with dynamic message classes."""

    def __init__(self, channel, service, name):
        descriptor = service.methods_by_name.get(name)
        if descriptor is None:
            raise Failure("%s has no method %s" % (service.full_name, name))
        self.request = message_factory.GetMessageClass(descriptor.input_type)
        response = message_factory.GetMessageClass(descriptor.output_type)
        path = "/%s/%s" % (service.full_name, name)
        make = channel.unary_stream if descriptor.server_streaming else channel.unary_unary
        self.call = make(path, request_serializer=self.request.SerializeToString,
                         response_deserializer=response.FromString)


def event_line(event):
    kind = event.WhichOneof("body")
    line = {"seq": event.seq, "emitted_at": event.emitted_at, "kind": kind}
    body = getattr(event, kind) if kind else None
    if kind == "gap":
        line.update({"from": getattr(body, "from"), "to": body.to})  # `from` is a Python keyword
    elif kind in ("message", "broadcast"):
        line["text"] = body.text
    elif kind == "tick":
        line.update({"n": body.n, "filler_len": len(body.filler)})
    elif kind == "audio":
        line.update({"mime_type": body.mime_type, "frequency_hz": body.frequency_hz,
                     "duration_ms": body.duration_ms, "data_len": len(body.data)})
    return line


def metadata_dict(metadata):
    joined = {}
    for key, value in metadata or ():
        if isinstance(value, bytes):  # `-bin` keys
            value = base64.b64encode(value).decode()
        joined[key] = joined[key] + ", " + value if key in joined else value
    return joined


def cmd_services(args):
    reflection = Reflection(connect(args.addr))
    out({"services": reflection.services()})
    methods = reflection.service(SERVICE).methods
    out({"methods": [{"name": m.name, "input": m.input_type.full_name, "output": m.output_type.full_name,
                      "server_streaming": m.server_streaming} for m in methods]})


def cmd_subscribe(args):
    channel = connect(args.addr)
    subscribe = Method(channel, Reflection(channel).service(SERVICE), "Subscribe")
    request = subscribe.request(client=args.client)
    if args.after is not None:
        request.after = args.after
    call = subscribe.call(request, timeout=args.timeout)
    out({"metadata": metadata_dict(call.initial_metadata())})
    received = 0
    try:
        while received < args.count:
            event = next(call)
            out(event_line(event))
            received += 1
    except StopIteration:
        out({"status": call.code().name, "details": call.details() or ""})
        return
    except grpc.RpcError as err:
        status(err)
        return
    call.cancel()
    out({"cancelled": True})


def cmd_publish(args):
    channel = connect(args.addr)
    publish = Method(channel, Reflection(channel).service(SERVICE), "Publish")
    try:
        # An oversized header list on purpose, to meet the server's HTTP/2 limit.
        metadata = [("x-filler", "a" * args.header_bytes)] if args.header_bytes else None
        reply = publish.call(publish.request(text=args.text), timeout=WAIT, metadata=metadata)
    except grpc.RpcError as err:
        return status(err)
    out({"seq": reply.seq})


def cmd_raw(args):
    # No serializers: grpcio then sends and returns the bytes as they are.
    try:
        body = bytes.fromhex(args.hex_body)
    except ValueError as err:
        raise Failure("HEX_BODY: %s" % err)
    call = connect(args.addr).unary_unary(args.method_path)
    try:
        answer = call(body, timeout=WAIT)
    except grpc.RpcError as err:
        return status(err)
    out({"ok_bytes": answer.hex()})


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    services = commands.add_parser("services")
    services.add_argument("addr")
    services.set_defaults(run=cmd_services)
    subscribe = commands.add_parser("subscribe")
    subscribe.add_argument("addr")
    subscribe.add_argument("--after", type=int, help="left unset in the request when not given")
    subscribe.add_argument("--count", type=int, required=True, help="events to receive before cancelling")
    subscribe.add_argument("--client", default="")
    subscribe.add_argument("--timeout", type=float, default=30.0, help="the call's deadline, in seconds")
    subscribe.set_defaults(run=cmd_subscribe)
    publish = commands.add_parser("publish")
    publish.add_argument("addr")
    publish.add_argument("text")
    publish.add_argument("--header-bytes", type=int, default=0, help="send a header of this many bytes")
    publish.set_defaults(run=cmd_publish)
    raw = commands.add_parser("raw")
    raw.add_argument("addr")
    raw.add_argument("method_path")
    raw.add_argument("hex_body")
    raw.set_defaults(run=cmd_raw)
    args = parser.parse_args()
    try:
        args.run(args)
    except Failure as err:
        print("grpc_client.py: %s" % err, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
