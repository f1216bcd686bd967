//! pipetop: watch Gitee Go pipelines live. An embedded webhook receiver verifies and parses
//! each job notification and hands it, through one channel, to a terminal UI or to JSON lines.

pub mod gitee;
pub mod ingest;
pub mod monitor;
