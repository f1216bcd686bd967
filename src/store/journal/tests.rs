use super::history::BISECT_UNTIL;
use super::reader::CHUNK;
use super::*;
use crate::delivery::{Delivery, Headers};
use crate::gitee::Auth;
use crate::gitee::parse_notification;
use chrono::SubsecRound as _;

fn delivery(id: u64, body: &[u8]) -> Delivery {
    let parsed = parse_notification(body).unwrap();
    Delivery {
        id,
        // The journal keeps milliseconds, as the receiver stamps them.
        received_at: Utc::now().trunc_subsecs(3),
        sent_at: DateTime::from_timestamp_millis(1_672_135_206_524),
        auth: Auth::Signature,
        repaired: parsed.repaired(),
        headers: Default::default(),
        notification: parsed.notification,
    }
}

fn sample(id: u64) -> Delivery {
    delivery(id, br#"{"job":{"pipelineId":1,"statusCode":"RUNNING"}}"#)
}

fn write(journal: &mut Journal, deliveries: &[Delivery]) {
    let mut lines = Vec::new();
    for d in deliveries {
        lines.extend(line(d, None).unwrap());
    }
    journal.append(&lines).unwrap();
}

fn ids(history: History) -> Vec<Result<u64, String>> {
    history
        .entries()
        .map(|e| e.map(|d| d.id).map_err(|s| s.to_string()))
        .collect()
}

#[test]
fn kept_headers_survive_the_round_trip_and_lines_without_them_read_as_before() {
    let mut ping = sample(1);
    ping.headers = Headers {
        ping: true,
        gitee_event: Some("Push Hook".into()),
        request_id: Some("a3f1-0001".into()),
    };
    let written = line(&ping, None).unwrap();
    let text = std::str::from_utf8(&written).unwrap();
    assert!(
        text.contains(r#""ping":true,"gitee_event":"Push Hook","request_id":"a3f1-0001","#),
        "{text}"
    );
    assert_eq!(parse_line(&written).unwrap(), ping);

    let plain = sample(2);
    let written = line(&plain, None).unwrap();
    let text = std::str::from_utf8(&written).unwrap();
    assert!(
        !text.contains("ping") && !text.contains("gitee_event") && !text.contains("request_id"),
        "{text}"
    );
    // As a line was written before the headers were kept.
    let old = br#"{"id":3,"received_at":"2026-01-02T03:04:05.000Z","auth":"none","repaired":false,"notification":{"job":{}}}"#;
    assert_eq!(parse_line(old).unwrap().headers, Headers::default());
}

#[test]
fn every_up_params_form_survives_the_round_trip() {
    let docs = include_bytes!("../../../tests/fixtures/doc-sample.txt");
    for body in [
        &br#"{"sources":[{"sourceType":"PIPELINE","upParams":"{\"A\":\"1\"}"},{"sourceType":"GITEE_GO"},{"sourceType":"PIPELINE","upParams":"A=1"}]}"#[..],
        br#"{"sources":[{"sourceType":"PIPELINE","upParams":{"A":"1"}}]}"#,
        &docs[..],
    ] {
        let original = delivery(3, body);
        let text = line(&original, None).unwrap();
        assert_eq!(text.last(), Some(&b'\n'));
        assert_eq!(parse_line(&text).unwrap(), original);
    }
}

#[test]
fn fields_of_another_shape_survive_the_round_trip_as_received() {
    let body = serde_json::json!({
        "job": {"pipelineId": 7, "buildNumber": 3.5, "jobName": ["a"]},
        "sources": [{"sourceType": "PIPELINE", "upParams": "{\"A\":\"1\"}"}, "s"],
        "globalParams": {"key1": "aaa"},
    });
    let original = delivery(4, body.to_string().as_bytes());
    assert_eq!(original.notification.misfits().len(), 4);
    let read = parse_line(&line(&original, None).unwrap()).unwrap();
    assert_eq!(read, original);
    assert_eq!(read.notification.misfits(), original.notification.misfits());
}

/// Lines exactly as the version before lenient shapes wrote them.
#[test]
fn lines_written_by_earlier_versions_still_read() {
    let old = concat!(
        r#"{"id":1,"received_at":"2026-12-01T22:06:38.274Z","sent_at":"2022-12-27T10:00:06.524Z","auth":"none","repaired":true,"key":"549ae82fd8c624f0dc549d68f9f67db3e1619cea981a8f1a23acc97987c443b6","forms":[null,"unescaped",null],"notification":{"job":{"pipelineId":183,"pipelineName":"Test Pipeline","stageName":"Build","jobName":"Java Build","buildNumber":19,"statusCode":"SUCC","statusName":"Success","pipelineUrl":"https://e.gitee.ru/oschina/projects/210455/pipelines/255039/history/426411/stages/741137/jobs/1018636?buildNumber=2"},"sources":[{"sourceType":"GITEE_GO","repoPath":"xiaoxuxuy/test","branch":"master","commitId":"123123"},{"sourceType":"PIPELINE","buildNumber":7,"upParams":{"GITEE_REPO":"git/test","GITEE_BRANCH":"master1","GITEE_COMMIT":"c2a64f66a9536200f9dc464427e793c3444b1113b"}},{"sourceType":"CODE_LEVEL_ARTIFACT","artifactRepo":"default","artifactVersion":"v1.0.0"}],"globalParams":[{"key":"test","value":"test1"},{"key":"test2","value":"test2"}]}}"#,
        "\n",
        r#"{"id":2,"received_at":"2026-12-01T22:06:38.294Z","auth":"none","repaired":false,"notification":{"job":{"pipelineId":7,"buildNumber":2,"statusCode":"FAIL","x":1},"sources":[{"sourceType":"SVN","rev":3}],"globalParams":[{"key":"A","value":"1"}],"hook":"push"}}"#,
    );
    let mut lines = old.lines();
    let docs = parse_line(lines.next().unwrap().as_bytes()).unwrap();
    let expected = parse_notification(include_bytes!("../../../tests/fixtures/doc-sample.txt"));
    assert_eq!(docs.notification, expected.unwrap().notification);
    assert!(docs.repaired);
    let other = parse_line(lines.next().unwrap().as_bytes()).unwrap();
    assert_eq!(other.notification.job.pipeline_id, Some(7));
    assert_eq!(other.notification.extra["hook"], "push");
    assert_eq!(other.notification.misfits(), []);
    // Written again, each is the line it was but for the guard's fingerprint.
    let again = line(&other, None).unwrap();
    assert_eq!(
        String::from_utf8(again).unwrap().trim_end(),
        old.lines().nth(1).unwrap()
    );
}

#[test]
fn entries_come_back_in_order_and_ids_resume_after_the_last() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/journal.jsonl");
    let opened = Journal::open(&path, DEFAULT_MAX_SIZE, Utc::now()).unwrap();
    assert_eq!(opened.last_id, 0);
    assert!(opened.history.is_empty());
    let mut journal = opened.journal;
    write(&mut journal, &[sample(1), sample(2)]);
    write(&mut journal, &[sample(3)]);
    drop(journal);
    let opened = Journal::open(&path, DEFAULT_MAX_SIZE, Utc::now()).unwrap();
    assert_eq!(opened.last_id, 3);
    assert!(opened.warnings.is_empty());
    assert_eq!(ids(opened.history), [Ok(1), Ok(2), Ok(3)]);
}

#[test]
fn a_second_opener_is_refused_while_the_first_holds_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.jsonl");
    let first = Journal::open(&path, DEFAULT_MAX_SIZE, Utc::now()).unwrap();
    let err = Journal::open(&path, DEFAULT_MAX_SIZE, Utc::now()).unwrap_err();
    assert!(matches!(err, JournalError::InUse { .. }), "{err}");
    drop(first);
    assert!(Journal::open(&path, DEFAULT_MAX_SIZE, Utc::now()).is_ok());
}

#[test]
fn a_cut_short_last_line_is_dropped_and_a_bad_line_is_skipped_by_number() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.jsonl");
    let mut text = line(&sample(1), None).unwrap();
    text.extend(b"not json\n");
    text.extend(line(&sample(5), None).unwrap());
    let torn = line(&sample(6), None).unwrap();
    text.extend(&torn[..torn.len() / 2]);
    fs::write(&path, &text).unwrap();

    let opened = Journal::open(&path, DEFAULT_MAX_SIZE, Utc::now()).unwrap();
    assert_eq!(opened.last_id, 5);
    assert_eq!(opened.warnings.len(), 1, "{:?}", opened.warnings);
    assert!(opened.warnings[0].contains("cut short"));
    let read = ids(opened.history);
    assert_eq!(read.len(), 3);
    assert_eq!(read[0], Ok(1));
    let skipped = read[1].as_ref().unwrap_err();
    assert!(
        skipped.contains("line 2 is not a journal entry"),
        "{skipped}"
    );
    assert_eq!(read[2], Ok(5));
    // The next append starts on a line of its own.
    let mut journal = opened.journal;
    write(&mut journal, &[sample(6)]);
    drop(journal);
    let opened = Journal::open(&path, DEFAULT_MAX_SIZE, Utc::now()).unwrap();
    assert!(opened.warnings.is_empty());
    assert_eq!(opened.last_id, 6);
}

/// Every entry of `history` read on `workers` threads in chunks of about `chunk` bytes:
/// ids, or the reason up to its parenthesis.
fn read_in(history: History, workers: usize, chunk: usize) -> Vec<Result<u64, String>> {
    let total = history.total_bytes();
    let mut reader = Reader::new(history.parts, workers, chunk);
    let mut read = Vec::new();
    while let Some(batch) = reader.next_batch() {
        read.extend(batch.entries.iter().map(|entry| match entry {
            Ok(delivery) => Ok(delivery.id),
            Err(skipped) => Err(skipped.to_string().split(" (").next().unwrap().to_owned()),
        }));
        reader.give_back(batch);
    }
    assert_eq!(reader.bytes_read(), total);
    read
}

#[test]
fn chunks_on_any_number_of_threads_read_as_line_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.jsonl");
    let one = line(&sample(1), None).unwrap().len() as u64;
    let mut journal = Journal::open(&path, one * 3, Utc::now()).unwrap().journal;
    let mut first = line(&sample(1), None).unwrap();
    first.extend(b"not json\n");
    first.extend(line(&sample(2), None).unwrap());
    journal.append(&first).unwrap();
    // Rotated: the first batch is in `.1` now.
    let mut second = Vec::new();
    for id in 3..=6 {
        second.extend(line(&sample(id), None).unwrap());
    }
    second.extend(b"\n");
    let long = format!(r#"{{"job":{{"pipelineName":"{}"}}}}"#, "x".repeat(3000));
    second.extend(line(&delivery(7, long.as_bytes()), None).unwrap());
    second.extend(b"{}\n");
    for id in 8..=30 {
        second.extend(line(&sample(id), None).unwrap());
    }
    journal.append(&second).unwrap();
    drop(journal);

    let not_an_entry = |path: &Path, line: u64| {
        Err(format!(
            "journal {}: line {line} is not a journal entry",
            path.display()
        ))
    };
    let mut expected = vec![Ok(1), not_an_entry(&previous_path(&path), 2), Ok(2)];
    expected.extend((3..=7).map(Ok));
    expected.push(not_an_entry(&path, 7));
    expected.extend((8..=30).map(Ok));
    let history = || Journal::open(&path, one * 3, Utc::now()).unwrap().history;
    for workers in [0, 1, 2, 3] {
        for chunk in [1, 100, one as usize, 1000, 5000, CHUNK] {
            assert_eq!(
                read_in(history(), workers, chunk),
                expected,
                "{workers} workers, chunks of {chunk}"
            );
        }
    }
}

#[test]
fn rotation_keeps_one_previous_file_and_history_reads_both() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.jsonl");
    let one = line(&sample(1), None).unwrap().len() as u64;
    let mut journal = Journal::open(&path, one * 2, Utc::now()).unwrap().journal;
    for id in 1..=5 {
        write(&mut journal, &[sample(id)]);
    }
    drop(journal);
    // 1 2 | 3 4 | 5: the first file is gone, `.1` holds 3 and 4.
    assert!(previous_path(&path).exists());
    let opened = Journal::open(&path, one * 2, Utc::now()).unwrap();
    assert_eq!(opened.last_id, 5);
    assert_eq!(ids(opened.history), [Ok(3), Ok(4), Ok(5)]);
}

#[test]
fn history_skips_through_a_delivery_in_either_file_and_only_that_very_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.jsonl");
    let deliveries: Vec<Delivery> = (1..=4000).map(sample).collect();
    let one = line(&deliveries[0], None).unwrap().len() as u64;
    let mut journal = Journal::open(&path, one * 2500, Utc::now())
        .unwrap()
        .journal;
    for batch in deliveries.chunks(100) {
        write(&mut journal, batch);
        if batch[0].id == 3501 {
            journal.append(b"not an entry\n").unwrap();
        }
    }
    drop(journal);
    let previous = fs::read(previous_path(&path)).unwrap();
    assert!(
        previous.len() as u64 > 8 * BISECT_UNTIL,
        "{}",
        previous.len()
    );
    let first_previous = parse_line(previous.split(|b| *b == b'\n').next().unwrap())
        .unwrap()
        .id;
    let first_current = first_previous + memchr::memchr_iter(b'\n', &previous).count() as u64;
    let resumed = |id: u64, received_at| {
        let mut history = Journal::open(&path, u64::MAX, Utc::now()).unwrap().history;
        let found = history.skip_through(id, received_at).unwrap();
        (found, ids(history))
    };

    for id in [
        1,
        2,
        1234,
        first_current - 1,
        first_current,
        3600,
        3999,
        4000,
    ] {
        let (found, after) = resumed(id, deliveries[id as usize - 1].received_at);
        assert!(found, "{id}");
        let mut expected: Vec<Result<u64, String>> = (id + 1..=4000).map(Ok).collect();
        if id <= 3600 {
            let at = expected.iter().position(|e| e == &Ok(3601)).unwrap();
            expected.insert(at, Err(String::new()));
        }
        assert_eq!(after.len(), expected.len(), "{id}");
        for (got, want) in after.iter().zip(&expected) {
            match (got, want) {
                (Err(reason), Err(_)) => {
                    let resumed_in_this_file = id >= first_current;
                    assert_eq!(reason.contains(" after delivery "), resumed_in_this_file);
                    assert!(reason.contains("is not a journal entry"), "{reason}");
                }
                _ => assert_eq!(got, want, "{id}"),
            }
        }
    }
    let (found, after) = resumed(3600, deliveries[3599].received_at);
    assert!(found);
    assert_eq!(
        after[0],
        Err(format!(
            "journal {}: line 1 after delivery 3600 is not a journal entry (expected ident at line 1 column 2); skipped it",
            path.display()
        ))
    );

    let elsewhere = deliveries[0].received_at - chrono::TimeDelta::seconds(1);
    for (id, received_at) in [(2000, elsewhere), (4001, deliveries[3999].received_at)] {
        let (found, after) = resumed(id, received_at);
        assert!(!found, "{id}");
        assert_eq!(after.first(), Some(&Ok(first_previous)));
        assert_eq!(after.last(), Some(&Ok(4000)));
    }
}

#[test]
fn history_is_what_was_there_at_open_whatever_is_appended_later() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.jsonl");
    let mut journal = Journal::open(&path, DEFAULT_MAX_SIZE, Utc::now())
        .unwrap()
        .journal;
    write(&mut journal, &[sample(1)]);
    drop(journal);
    let opened = Journal::open(&path, DEFAULT_MAX_SIZE, Utc::now()).unwrap();
    let mut journal = opened.journal;
    write(&mut journal, &[sample(2)]);
    assert_eq!(ids(opened.history), [Ok(1)]);
}

#[test]
fn recent_fingerprints_come_back_for_the_guard() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.jsonl");
    let mut journal = Journal::open(&path, DEFAULT_MAX_SIZE, Utc::now())
        .unwrap()
        .journal;
    let fingerprint = Fingerprint::of(Some("1"), Some("t"), b"{}", true).unwrap();
    let mut old = sample(1);
    old.received_at = Utc::now() - chrono::TimeDelta::hours(1);
    let mut lines = line(&old, Some(&fingerprint)).unwrap();
    lines.extend(line(&sample(2), Some(&fingerprint)).unwrap());
    journal.append(&lines).unwrap();
    drop(journal);
    let since = Utc::now() - chrono::TimeDelta::minutes(10);
    let opened = Journal::open(&path, DEFAULT_MAX_SIZE, since).unwrap();
    assert_eq!(opened.recent.len(), 1);
    assert_eq!(opened.recent[0].id, 2);
    assert_eq!(opened.recent[0].fingerprint, fingerprint);
}

#[test]
fn lines_come_back_last_first_across_blocks_and_long_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lines");
    let mut text = Vec::new();
    // Short lines straddling block boundaries at every offset, blank lines, lines longer
    // than a block and than what is held, and a last piece with no newline.
    for n in 0..3000 {
        text.extend(format!("{n}{}\n", "x".repeat(n * 7 % 113)).bytes());
        if n % 500 == 0 {
            text.extend(b"\n");
            text.extend("y".repeat(3 * BACK_BLOCK + n).bytes());
            text.extend(b"\n");
        }
    }
    text.extend(b"no newline");
    fs::write(&path, &text).unwrap();
    let file = File::open(&path).unwrap();
    for len in [text.len(), text.len() - 10, 1, 0] {
        let expected: Vec<&[u8]> = text[..len].split_inclusive(|&b| b == b'\n').rev().collect();
        let mut lines = LinesBack::new(&file, len as u64);
        let mut read = Vec::new();
        while let Some(line) = lines.next_line().unwrap() {
            read.push(line.to_vec());
        }
        assert_eq!(read, expected, "{len} bytes");
    }
}

/// A delivery received `ago` before now, with a signed fingerprint of its own.
fn signed(id: u64, body: &[u8], ago: chrono::TimeDelta) -> (Vec<u8>, Recent) {
    let mut d = delivery(id, body);
    d.received_at -= ago;
    let fingerprint = Fingerprint::of(Some(&id.to_string()), Some("t"), body, true).unwrap();
    let recent = Recent {
        id,
        received_at: d.received_at,
        fingerprint,
    };
    (line(&d, Some(&fingerprint)).unwrap(), recent)
}

fn ten_minutes_ago() -> DateTime<Utc> {
    Utc::now() - chrono::TimeDelta::minutes(10)
}

#[test]
fn recent_deliveries_come_back_behind_megabytes_of_bodies_and_from_the_previous_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.jsonl");
    let big = format!(
        r#"{{"job":{{"pipelineId":1}},"padding":"{}"}}"#,
        "p".repeat(900 * 1024)
    );
    // Two small lines and six of 900 KiB, then two more: past 6 MiB, so the journal was
    // rotated, and 1 and 2 are in `.1` with over 4 MiB after them there, and more after
    // that in the journal.
    let mut journal = Journal::open(&path, 6 << 20, Utc::now()).unwrap().journal;
    let mut expected = Vec::new();
    for id in 1..=10 {
        let body: &[u8] = if id > 2 {
            big.as_bytes()
        } else {
            br#"{"job":{"pipelineId":1}}"#
        };
        let (line, recent) = signed(id, body, chrono::TimeDelta::zero());
        journal.append(&line).unwrap();
        expected.push(recent);
    }
    drop(journal);
    assert!(fs::metadata(previous_path(&path)).unwrap().len() > 5 << 20);
    let opened = Journal::open(&path, 6 << 20, ten_minutes_ago()).unwrap();
    assert_eq!(opened.last_id, 10);
    assert_eq!(opened.recent, expected);
    assert!(fs::metadata(&path).unwrap().len() > 1 << 20);
}

#[test]
fn reading_back_stops_at_the_first_line_received_before_since() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.jsonl");
    let minutes = chrono::TimeDelta::minutes;
    // In `.1`: 1, recent by its stamp but behind an old line, so not read.
    fs::write(previous_path(&path), signed(1, b"{}", minutes(0)).0).unwrap();
    let mut text = Vec::new();
    let mut expected = Vec::new();
    for (id, ago) in [(2, 0), (3, 60), (4, 1), (5, 0)] {
        let (line, recent) = signed(id, b"{}", minutes(ago));
        text.extend(line);
        if id > 3 {
            expected.push(recent);
        }
    }
    text.extend(b"not an entry\n");
    fs::write(&path, text).unwrap();
    let opened = Journal::open(&path, DEFAULT_MAX_SIZE, ten_minutes_ago()).unwrap();
    assert_eq!(opened.last_id, 5);
    assert_eq!(opened.recent, expected);
    drop(opened);
    // Nothing recent: the last id still comes back, from the previous file if need be.
    fs::write(&path, b"").unwrap();
    let opened = Journal::open(&path, DEFAULT_MAX_SIZE, Utc::now() + minutes(1)).unwrap();
    assert_eq!((opened.last_id, opened.recent), (1, Vec::new()));
}

#[test]
fn no_more_fingerprints_come_back_than_the_guard_keeps_and_the_newest_do() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.jsonl");
    let total = Guard::MAX_ENTRIES as u64 + 10;
    let mut text = Vec::new();
    for id in 1..=total {
        text.extend(signed(id, b"{}", chrono::TimeDelta::zero()).0);
    }
    fs::write(&path, text).unwrap();
    let opened = Journal::open(&path, DEFAULT_MAX_SIZE, ten_minutes_ago()).unwrap();
    assert_eq!(opened.last_id, total);
    let ids: Vec<u64> = opened.recent.iter().map(|recent| recent.id).collect();
    assert_eq!(ids, (11..=total).collect::<Vec<_>>());
}

#[test]
fn a_journal_at_the_largest_id_is_refused_in_one_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.jsonl");
    fs::write(&path, line(&sample(u64::MAX - 1), None).unwrap()).unwrap();
    let opened = Journal::open(&path, DEFAULT_MAX_SIZE, Utc::now()).unwrap();
    assert_eq!(opened.last_id, u64::MAX - 1);
    drop(opened);
    let mut text = line(&sample(u64::MAX), None).unwrap();
    text.extend(b"not an entry\n");
    fs::write(&path, text).unwrap();
    let err = Journal::open(&path, DEFAULT_MAX_SIZE, Utc::now()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "the journal {} ends at delivery id 18446744073709551615, the largest id there is, so no id is left for the next delivery; move it aside or choose another with --journal FILE",
            path.display()
        )
    );
}

#[test]
fn a_device_is_written_but_never_read_and_a_full_one_fails_cleanly() {
    let opened = Journal::open(Path::new("/dev/full"), 10, Utc::now()).unwrap();
    assert!(opened.history.is_empty());
    let mut journal = opened.journal;
    let err = journal.append(b"{}\n").unwrap_err();
    assert_eq!(crate::io_reason(&err), "no space left on device");
}

#[test]
fn an_impossible_place_is_one_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain");
    fs::write(&file, b"").unwrap();
    let path = file.join("journal.jsonl");
    let err = Journal::open(&path, DEFAULT_MAX_SIZE, Utc::now()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "cannot open the journal {}: not a directory",
            path.display()
        )
    );
}
