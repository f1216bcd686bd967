//! pipetop: watch Gitee Go pipelines live. An embedded webhook receiver verifies and parses
//! each job notification and hands it, through one channel, to a terminal UI or to JSON lines.

pub mod app;
pub mod cli;
pub mod delivery;
pub mod demo;
pub mod feed;
pub mod gitee;
pub mod headless;
pub mod heap;
pub mod monitor;
pub mod nats;
pub mod options;
pub mod outbound;
pub mod receiver;
pub mod remote;
pub mod send;
pub mod store;
#[cfg(test)]
pub(crate) mod testing;
pub mod text;
pub mod tui;

/// A short, lowercase reason for an IO error, to end a sentence with: `address already in use`
/// rather than `Address already in use (os error 98)`.
pub fn io_reason(err: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match err.kind() {
        ErrorKind::AddrInUse => "address already in use".into(),
        ErrorKind::AddrNotAvailable => "that address does not belong to this machine".into(),
        ErrorKind::PermissionDenied => "permission denied".into(),
        ErrorKind::NotFound => "no such file or directory".into(),
        _ => {
            let text = err.to_string();
            let text = text.split(" (os error").next().unwrap_or(&text);
            let mut chars = text.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_lowercase().chain(chars).collect::<String>()
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Error, ErrorKind};

    #[test]
    fn io_reasons_are_short_and_lowercase() {
        assert_eq!(
            super::io_reason(&Error::from(ErrorKind::AddrInUse)),
            "address already in use"
        );
        assert_eq!(
            super::io_reason(&Error::from_raw_os_error(21)),
            "is a directory"
        );
    }
}
