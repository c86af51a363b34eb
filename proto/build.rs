//! Compiles proto/*.proto with the pure-Rust protox, so no protoc is needed on a fresh machine.
//! The generated module lands in OUT_DIR as `otsd.pb.rs` and is included by `src/protocol/pb.rs`.

fn main() {
    println!("cargo:rerun-if-changed=proto");
    // Optimised builds use pgo/otsd.profdata (tools/pgo_rustc.sh): a new profile rebuilds
    // this crate (dependencies keep the old one until `cargo clean --release`).
    println!("cargo:rerun-if-changed=pgo/otsd.profdata");
    let fds = match protox::compile(["ots.proto"], ["proto"]) {
        Ok(fds) => fds,
        Err(e) => {
            eprintln!("proto/ots.proto does not compile: {e:?}");
            std::process::exit(1);
        }
    };
    if let Err(e) = prost_build::Config::new().compile_fds(fds) {
        eprintln!("prost-build failed: {e}");
        std::process::exit(1);
    }
}
