//! A bare hyper server for side-by-side load tests with otsd (wrk): reads the request body
//! and answers a fixed 100-byte reply, with no auth, no protobuf and no storage. The gap
//! between the two is otsd's own cost per request.

use std::convert::Infallible;
use std::net::SocketAddr;

use anyhow::Context as _;
use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// The reply body: 100 bytes, about the size of a small PutRow response.
const REPLY: &[u8; 100] = &[b'x'; 100];

/// Bare hyper server answering every request with a fixed 100-byte body.
#[derive(Debug, Parser)]
#[command(name = "hyper_baseline", about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8801")]
    listen: SocketAddr,
}

async fn reply(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    // Read the whole body, as otsd does, so both servers do the same socket work.
    let _ = req.into_body().collect().await;
    Ok(Response::new(Full::new(Bytes::from_static(REPLY))))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    println!(
        "hyper_baseline listening on http://{}",
        listener.local_addr()?
    );
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                eprintln!("accept failed: {e}");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service_fn(reply))
                .await;
        });
    }
}
