//! Receiving deliveries: the HTTP listener, the duplicate guard, the journal and its history,
//! and the saved screen. Every outcome becomes one [`Ingest`](crate::delivery::Ingest) on a
//! single tokio channel, which the TUI and the headless printer consume.
//!
//! On start, the journal's history can be put on that channel first ([`replay::feed`]).

mod connections;
pub mod guard;
pub mod handoff;
pub mod journal;
pub mod replay;
pub mod server;
pub mod snapshot;
