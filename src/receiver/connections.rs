//! The listener's connections: a bound on how many are served at once, room made at that bound
//! by closing connections that are between requests (the longest idle first), and a write
//! timeout that cuts off a client that stops reading its answers.
//!
//! Behind a tunnel every client is 127.0.0.1, so nothing here looks at addresses: a connection
//! earns its slot by being in the middle of a request. One that only holds a slot (idle
//! keep-alive, headers trickling in, answers it never reads) is what gives way when a new
//! connection arrives and every slot is taken; the new one is accepted at once rather than left
//! in the kernel's queue behind the hostile ones.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;

/// How long the accept loop waits for the connection it asked to close before it asks another:
/// an idle connection closes within microseconds, one finishing an answer a little later.
const MAKE_ROOM_RETRY: Duration = Duration::from_millis(50);

/// Every connection being served, and the slots that bound them.
pub(super) struct Connections {
    slots: Arc<Semaphore>,
    max: u32,
    epoch: Instant,
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Arc<Connection>>>,
}

/// What the listener knows of one connection.
pub(super) struct Connection {
    /// A request has been read and is being answered.
    in_request: AtomicBool,
    /// At least one request was answered: the connection is a keep-alive one, which hyper
    /// closes at once when asked to between requests.
    answered: AtomicBool,
    /// The last write found the client's receive window full.
    stalled: AtomicBool,
    /// Asked to close to make room.
    asked: AtomicBool,
    /// Nanoseconds from `epoch` to when the connection was accepted or its last request was
    /// answered.
    idle_since: AtomicU64,
    epoch: Instant,
    close: Notify,
    /// The connection's slot, until it ends or becomes a viewer's ([`Seat::leave`]).
    slot: Mutex<Option<OwnedSemaphorePermit>>,
}

/// A connection's place in [`Connections`]; it and the slot are given back when it is
/// dropped, at the end of the connection's task.
pub(super) struct Admitted {
    connections: Arc<Connections>,
    id: u64,
    pub connection: Arc<Connection>,
}

/// Put on each request, so a handler whose answer never ends (a viewer's event stream) can
/// give its connection's slot back: viewers are bounded by their own slots
/// ([`crate::feed::Hub`]), and must not hold the ones deliveries need.
#[derive(Clone)]
pub(super) struct Seat(pub Arc<Connection>);

impl Seat {
    /// Gives the connection's slot back; it is no longer counted, nor asked to make room.
    pub fn leave(&self) {
        drop(
            self.0
                .slot
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
    }
}

impl Connections {
    pub fn new(max: usize) -> Arc<Connections> {
        let max = u32::try_from(max.clamp(1, Semaphore::MAX_PERMITS)).unwrap_or(u32::MAX);
        Arc::new(Connections {
            slots: Arc::new(Semaphore::new(max as usize)),
            max,
            epoch: Instant::now(),
            next_id: AtomicU64::new(0),
            open: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for a connection just accepted: at once when one is free, otherwise as soon as a
    /// connection between requests has been asked to close and has closed. While every
    /// connection is in the middle of a request, this waits for one to finish.
    pub async fn admit(self: &Arc<Self>) -> Admitted {
        loop {
            if let Ok(slot) = Arc::clone(&self.slots).try_acquire_owned() {
                return self.register(slot);
            }
            self.make_room();
            tokio::select! {
                slot = Arc::clone(&self.slots).acquire_owned() => {
                    // The semaphore is never closed.
                    if let Ok(slot) = slot {
                        return self.register(slot);
                    }
                }
                () = tokio::time::sleep(MAKE_ROOM_RETRY) => {}
            }
        }
    }

    /// Resolves once every admitted connection is gone.
    pub async fn all_closed(&self) {
        let _ = self.slots.acquire_many(self.max).await;
    }

    /// Asks the connection that has been idle longest to close, preferring one not asked yet.
    /// Connections in the middle of a request are left alone.
    fn make_room(&self) {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let victim = open
            .values()
            .filter(|c| !c.in_request.load(Ordering::Acquire))
            .min_by_key(|c| {
                (
                    c.asked.load(Ordering::Relaxed),
                    c.idle_since.load(Ordering::Relaxed),
                )
            });
        if let Some(victim) = victim {
            victim.asked.store(true, Ordering::Relaxed);
            victim.close.notify_one();
        }
    }

    fn register(self: &Arc<Self>, slot: OwnedSemaphorePermit) -> Admitted {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let connection = Arc::new(Connection {
            in_request: AtomicBool::new(false),
            answered: AtomicBool::new(false),
            stalled: AtomicBool::new(false),
            asked: AtomicBool::new(false),
            idle_since: AtomicU64::new(nanos_since(self.epoch)),
            epoch: self.epoch,
            close: Notify::new(),
            slot: Mutex::new(Some(slot)),
        });
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, Arc::clone(&connection));
        Admitted {
            connections: Arc::clone(self),
            id,
            connection,
        }
    }
}

fn nanos_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

impl Drop for Admitted {
    fn drop(&mut self) {
        Seat(Arc::clone(&self.connection)).leave();
        self.connections
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}

/// A request being answered on a connection; see [`Connection::request`].
pub(super) struct InRequest(Arc<Connection>);

impl Drop for InRequest {
    fn drop(&mut self) {
        let connection = &self.0;
        connection
            .idle_since
            .store(nanos_since(connection.epoch), Ordering::Relaxed);
        connection.answered.store(true, Ordering::Relaxed);
        connection.in_request.store(false, Ordering::Release);
    }
}

impl Connection {
    /// Marks a request as being answered until the returned value is dropped.
    pub fn request(self: &Arc<Self>) -> InRequest {
        self.in_request.store(true, Ordering::Release);
        InRequest(Arc::clone(self))
    }

    /// Resolves when the connection is asked to close to make room.
    pub async fn asked_to_close(&self) {
        self.close.notified().await;
    }

    /// Whether closing the connection outright now loses nothing anyone is waiting for: no
    /// request is being answered, and either none ever was (so at most a head is half sent)
    /// or the client is not reading the answers it has. Otherwise it is closed gracefully,
    /// once its answer is out.
    pub fn may_drop(&self) -> bool {
        !self.in_request.load(Ordering::Acquire)
            && (!self.answered.load(Ordering::Relaxed) || self.stalled.load(Ordering::Relaxed))
    }
}

/// A stream whose writes fail with [`io::ErrorKind::TimedOut`] once the peer has taken none of
/// the bytes offered for `timeout`, so a client that sends requests and never reads the
/// answers cannot keep its connection.
pub(super) struct WriteTimeout<T> {
    inner: T,
    timeout: Duration,
    stall: Option<Pin<Box<Sleep>>>,
    connection: Arc<Connection>,
}

impl<T> WriteTimeout<T> {
    pub fn new(inner: T, timeout: Duration, connection: Arc<Connection>) -> WriteTimeout<T> {
        WriteTimeout {
            inner,
            timeout,
            stall: None,
            connection,
        }
    }

    /// Passes on a write's outcome, starting the clock when the write has to wait and
    /// stopping it when the peer takes bytes again.
    fn watch<R>(
        &mut self,
        cx: &mut Context<'_>,
        outcome: Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        if outcome.is_ready() {
            if self.stall.take().is_some() {
                self.connection.stalled.store(false, Ordering::Relaxed);
            }
            return outcome;
        }
        let timeout = self.timeout;
        let stall = self.stall.get_or_insert_with(|| {
            self.connection.stalled.store(true, Ordering::Relaxed);
            Box::pin(tokio::time::sleep(timeout))
        });
        match stall.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client did not read its answer in time",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for WriteTimeout<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WriteTimeout<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let outcome = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(cx, outcome)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let outcome = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch(cx, outcome)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let outcome = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(cx, outcome)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let outcome = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.watch(cx, outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    #[tokio::test(start_paused = true)]
    async fn a_write_fails_once_the_peer_has_taken_nothing_for_the_timeout() {
        let connections = Connections::new(1);
        let admitted = connections.admit().await;
        let (ours, mut theirs) = tokio::io::duplex(16);
        let timeout = Duration::from_secs(10);
        let mut stream = WriteTimeout::new(ours, timeout, Arc::clone(&admitted.connection));
        stream.write_all(&[b'a'; 16]).await.unwrap();
        // The peer takes a little just before the timeout: the clock starts again.
        let reading = async {
            tokio::time::sleep(timeout - Duration::from_secs(1)).await;
            theirs.read_exact(&mut [0u8; 8]).await.unwrap();
        };
        let (written, ()) = tokio::join!(stream.write_all(&[b'b'; 8]), reading);
        written.unwrap();
        let started = tokio::time::Instant::now();
        let err = stream.write_all(b"c").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), timeout);
        assert!(admitted.connection.stalled.load(Ordering::Relaxed));
    }

    #[tokio::test]
    async fn at_the_bound_the_longest_idle_connection_is_asked_to_close_and_busy_ones_are_not() {
        let connections = Connections::new(2);
        let idle = connections.admit().await;
        let busy = connections.admit().await;
        let in_request = busy.connection.request();
        assert!(idle.connection.may_drop(), "never answered a request");
        assert!(!busy.connection.may_drop());
        let waiting = tokio::spawn({
            let connections = Arc::clone(&connections);
            async move { connections.admit().await }
        });
        idle.connection.asked_to_close().await;
        assert!(!busy.connection.asked.load(Ordering::Relaxed));
        drop(idle);
        let third = waiting.await.unwrap();
        drop(in_request);
        assert!(
            !busy.connection.may_drop(),
            "answered, and reading its answers"
        );
        drop((busy, third));
        connections.all_closed().await;
    }
}
