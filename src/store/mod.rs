//! What pipetop keeps: the journal of accepted deliveries (the file, its line format and its
//! history reader), the writer that numbers each delivery, checks it against the duplicate
//! guard and journals it before it is answered, the saved screen beside the journal, and the
//! replay that puts the journal's history on the feed at start.
//!
//! Numbering and the guard live here rather than in the receiver because they are properties
//! of the durable log: an id is a position in the journal, and a signature is refused because
//! the journal holds it. The receiver asks the writer ([`handoff::Handoff`]) and answers with
//! what it says.

pub mod guard;
pub mod handoff;
pub mod journal;
pub mod replay;
pub mod screen;
