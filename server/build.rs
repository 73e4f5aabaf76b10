//! Generates the server side of `lab.v1.Events` from `proto/lab/v1/events.proto` (protox: no protoc needed). The
//! messages are `protocol::grpc::v1`'s, generated there once for the server, the page and the load tool.

const PROTO_ROOT: &str = "../proto";
const PROTO: &str = "../proto/lab/v1/events.proto";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed={PROTO}");
    let descriptors = protox::compile([PROTO], [PROTO_ROOT])?;
    tonic_prost_build::configure()
        .build_client(false)
        .build_transport(false)
        .extern_path(".lab.v1", "::protocol::grpc::v1")
        .compile_fds(descriptors)?;
    Ok(())
}
