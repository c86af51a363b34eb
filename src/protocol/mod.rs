//! Wire formats only: protobuf messages (`pb`, sized up without decoding by `peek`) and
//! PlainBuffer rows (`plainbuffer`).
//! No I/O and no engine here; shared by `server`/`api` and the client.

pub mod pb;
pub mod peek;
pub mod plainbuffer;
pub mod sign;
