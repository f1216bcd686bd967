//! Giving freed memory back to the system.
//!
//! Deliveries are allocated on the receiver's threads and freed on the one that applies them,
//! and glibc keeps what a thread's arena freed until the arena's top is free too: after a busy
//! hour a long-lived pipetop would hold its peak forever. `malloc_trim` returns free pages of
//! every arena; the TUI calls it on its idle clock after deliveries have come and gone.

/// Returns free heap pages to the system where the allocator supports it (glibc); elsewhere
/// it does nothing.
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; it takes no pointers.
    unsafe {
        libc::malloc_trim(0);
    }
}
