use super::*;
use crate::store::journal;
use crate::testing::{delivery, draft};

fn id_of(ingest: Option<Ingest>) -> u64 {
    match ingest {
        Some(Ingest::Accepted(delivery)) => delivery.id,
        other => panic!("expected an accepted delivery, got {other:?}"),
    }
}

fn ok<E>(id: u64) -> Result<Accepted, E> {
    Ok(Accepted {
        id,
        duplicate: false,
    })
}

/// An answer as the sender reads it: refusals compare by what they say.
fn said<T>(answer: Result<T, HandoffError>) -> Result<T, String> {
    answer.map_err(|err| err.to_string())
}

/// 16 tasks sending 50 deliveries each, each task collecting the ids it was answered with.
fn send_concurrently(handoff: &Arc<Handoff>) -> Vec<tokio::task::JoinHandle<Vec<u64>>> {
    (0..16)
        .map(|_| {
            let handoff = Arc::clone(handoff);
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for _ in 0..50 {
                    ids.push(handoff.accept(draft(), None).await.unwrap().id);
                }
                ids
            })
        })
        .collect()
}

/// Every id the senders were answered with, sorted.
async fn answered_ids(senders: Vec<tokio::task::JoinHandle<Vec<u64>>>) -> Vec<u64> {
    let mut answered = Vec::new();
    for sender in senders {
        answered.extend(sender.await.unwrap());
    }
    answered.sort_unstable();
    answered
}

#[tokio::test]
async fn ids_resume_from_the_given_value_in_channel_order() {
    let (tx, mut rx) = mpsc::channel(8);
    let handoff = Handoff::new(tx, 41);
    assert_eq!(said(handoff.accept(draft(), None).await), ok(41));
    assert_eq!(said(handoff.accept(draft(), None).await), ok(42));
    assert_eq!(id_of(rx.recv().await), 41);
    assert_eq!(id_of(rx.recv().await), 42);
    assert_eq!(handoff.accepted(), 2);
    assert_eq!(handoff.last_id(), 42);
}

#[tokio::test]
async fn a_full_channel_makes_the_delivery_wait_instead_of_dropping_it() {
    let (tx, mut rx) = mpsc::channel(1);
    let handoff = Arc::new(Handoff::new(tx, 1));
    assert_eq!(said(handoff.accept(draft(), None).await), ok(1));
    let waiting = tokio::spawn({
        let handoff = Arc::clone(&handoff);
        async move { handoff.accept(draft(), None).await }
    });
    let early = tokio::time::timeout(Duration::from_millis(100), async {
        while handoff.accepted() < 2 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(early.is_err(), "the second delivery did not wait");
    assert_eq!(id_of(rx.recv().await), 1);
    assert_eq!(said(waiting.await.unwrap()), ok(2));
    assert_eq!(id_of(rx.recv().await), 2);
}

#[tokio::test]
async fn a_closed_channel_is_reported_and_the_id_is_not_used_up() {
    let (tx, rx) = mpsc::channel(1);
    let handoff = Handoff::new(tx, 1);
    drop(rx);
    assert_eq!(
        said(handoff.accept(draft(), None).await),
        Err(HandoffError::Closed.to_string())
    );
    assert_eq!(handoff.last_id(), 0);
    assert_eq!(handoff.accepted(), 0);
}

#[tokio::test]
async fn redeliveries_are_answered_with_the_first_id_and_sent_on_once() {
    let (tx, mut rx) = mpsc::channel(8);
    let handoff = Handoff::new(tx, 1);
    let fp = |body: &[u8]| Fingerprint::of(Some("1"), Some("sig"), body, true);
    assert_eq!(said(handoff.accept(draft(), fp(b"a")).await), ok(1));
    assert_eq!(
        said(handoff.accept(draft(), fp(b"a")).await),
        Ok(Accepted {
            id: 1,
            duplicate: true
        })
    );
    assert_eq!(
        said(handoff.accept(draft(), fp(b"b")).await),
        Err(HandoffError::SignatureReused.to_string())
    );
    assert_eq!(said(handoff.accept(draft(), None).await), ok(2));
    assert_eq!(id_of(rx.recv().await), 1);
    assert_eq!(id_of(rx.recv().await), 2);
    assert_eq!(handoff.duplicates(), 1);
}

#[tokio::test]
async fn the_largest_id_is_the_last_given_and_ids_never_wrap() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.jsonl");
    let opened = Journal::open(&path, journal::DEFAULT_MAX_SIZE, Utc::now()).unwrap();
    let (tx, mut rx) = mpsc::channel(8);
    let (journaled, stopped) = Handoff::start(Setup {
        out: tx.clone(),
        journal: Some(opened.journal),
        first_id: u64::MAX,
        window: Duration::from_secs(300),
        recent: Vec::new(),
    })
    .unwrap();
    let direct = Handoff::new(tx, u64::MAX);
    for handoff in [&journaled, &direct] {
        assert_eq!(said(handoff.accept(draft(), None).await), ok(u64::MAX));
        let refused = Err(HandoffError::NoIdLeft.to_string());
        assert_eq!(said(handoff.accept(draft(), None).await), refused);
        assert_eq!(handoff.last_id(), u64::MAX);
        assert_eq!(id_of(rx.recv().await), u64::MAX);
    }
    drop((journaled, direct));
    stopped.wait();
    assert!(rx.recv().await.is_none());
}

#[tokio::test]
async fn a_precheck_refuses_a_reused_signature_on_either_route_and_lets_the_rest_through() {
    let dir = tempfile::tempdir().unwrap();
    let opened = Journal::open(&dir.path().join("journal.jsonl"), 1 << 20, Utc::now()).unwrap();
    let (tx, _rx) = mpsc::channel(8);
    let (journaled, stopped) = Handoff::start(Setup {
        out: tx.clone(),
        journal: Some(opened.journal),
        first_id: 1,
        window: Duration::from_secs(300),
        recent: Vec::new(),
    })
    .unwrap();
    let direct = Handoff::new(tx, 1);
    let fp = |body: &[u8]| Fingerprint::of(Some("1"), Some("sig"), body, true);
    let unsigned = Fingerprint::of(Some("1"), Some("pw"), b"b", false);
    for handoff in [&journaled, &direct] {
        assert_eq!(said(handoff.precheck(fp(b"a").as_ref())), Ok(()));
        assert_eq!(said(handoff.accept(draft(), fp(b"a")).await), ok(1));
        assert_eq!(
            said(handoff.precheck(fp(b"a").as_ref())),
            Ok(()),
            "a redelivery"
        );
        assert_eq!(
            said(handoff.precheck(fp(b"b").as_ref())),
            Err(HandoffError::SignatureReused.to_string())
        );
        assert_eq!(said(handoff.precheck(unsigned.as_ref())), Ok(()));
        assert_eq!(said(handoff.precheck(None)), Ok(()));
    }
    drop(journaled);
    stopped.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_deliveries_keep_gapless_ids_in_journal_and_channel_order_across_rotations() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.jsonl");
    let one = journal::line(&delivery(1000), None).unwrap().len() as u64;
    // Room for a few lines only: the journal rotates again and again under the load.
    let opened = Journal::open(&path, one * 5, Utc::now()).unwrap();
    let (tx, mut rx) = mpsc::channel(1024);
    let (handoff, stopped) = Handoff::start(Setup {
        out: tx,
        journal: Some(opened.journal),
        first_id: 1,
        window: Duration::from_secs(300),
        recent: Vec::new(),
    })
    .unwrap();
    let handoff = Arc::new(handoff);
    let senders = send_concurrently(&handoff);
    assert_eq!(answered_ids(senders).await, (1..=800).collect::<Vec<_>>());
    for id in 1..=800 {
        assert_eq!(id_of(rx.recv().await), id);
    }
    drop(handoff);
    tokio::task::spawn_blocking(move || stopped.wait())
        .await
        .unwrap();
    let opened = Journal::open(&path, one * 5, Utc::now()).unwrap();
    assert_eq!(opened.last_id, 800);
    let stored: Vec<u64> = opened
        .history
        .entries()
        .map(|entry| entry.unwrap().id)
        .collect();
    let first = stored[0];
    assert_eq!(stored, (first..=800).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_journal_concurrent_deliveries_keep_gapless_ids_in_channel_order() {
    // A channel smaller than the number of senders, so they also wait for room.
    let (tx, mut rx) = mpsc::channel(4);
    let handoff = Arc::new(Handoff::new(tx, 1));
    let senders = send_concurrently(&handoff);
    for id in 1..=800 {
        assert_eq!(id_of(rx.recv().await), id);
    }
    assert_eq!(answered_ids(senders).await, (1..=800).collect::<Vec<_>>());
    assert_eq!(handoff.last_id(), 800);
}

#[tokio::test]
async fn a_failed_write_answers_with_the_reason_and_gives_the_id_back() {
    let (tx, mut rx) = mpsc::channel(8);
    let opened = Journal::open(std::path::Path::new("/dev/full"), 1024, Utc::now()).unwrap();
    let (handoff, stopped) = Handoff::start(Setup {
        out: tx,
        journal: Some(opened.journal),
        first_id: 5,
        window: Duration::from_secs(300),
        recent: Vec::new(),
    })
    .unwrap();
    let fingerprint = Fingerprint::of(Some("1"), Some("sig"), b"a", true);
    let failed = handoff.accept(draft(), fingerprint).await;
    assert_eq!(
        failed.unwrap_err().to_string(),
        "cannot store the delivery: no space left on device"
    );
    // Not remembered either: the sender's retry is a new delivery, not a duplicate.
    let retried = handoff.accept(draft(), fingerprint).await;
    assert!(
        matches!(retried, Err(HandoffError::Write(_))),
        "{retried:?}"
    );
    assert_eq!(handoff.last_id(), 4);
    drop(handoff);
    stopped.wait();
    assert!(rx.recv().await.is_none());
}
