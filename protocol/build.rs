//! Generates gRPC's message types from `proto/lab/v1/events.proto`, and keeps the compiled descriptor set for the
//! server's reflection service. `protox` compiles the file in Rust: no `protoc` on the machine.

use std::path::PathBuf;

use prost::Message;

const PROTO_ROOT: &str = "../proto";
const PROTO: &str = "../proto/lab/v1/events.proto";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed={PROTO}");
    let descriptors = protox::compile([PROTO], [PROTO_ROOT])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out_dir.join("lab_v1_descriptor.bin"), descriptors.encode_to_vec())?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}
