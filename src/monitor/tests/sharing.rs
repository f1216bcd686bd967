//! What is kept once and shared: a run's context and checkouts, names, and URLs.

use super::*;

#[test]
fn a_run_shares_one_context_and_takes_new_sources_when_they_change() {
    let mut monitor = Monitor::default();
    feed(
        &mut monitor,
        [
            ev(1).job(Some("a")).repo("acme/x", "main", "1"),
            ev(2).job(Some("b")).repo("acme/x", "main", "1"),
        ],
    );
    let run = latest(&monitor, 1);
    assert_eq!(run.context().delivery_id, 1);
    let shared = monitor
        .log()
        .entries()
        .filter_map(|e| match &e.event {
            LogEvent::Accepted(a) => Some(&a.checkouts),
            LogEvent::Rejected(_) | LogEvent::Noted(_) | LogEvent::Outcome(_) => None,
        })
        .all(|checkouts| Arc::ptr_eq(checkouts, run.checkouts()));
    assert!(shared);
    assert_eq!(run.checkouts()[0].repo_path.as_deref(), Some("acme/x"));

    feed(&mut monitor, [ev(3).job(Some("c"))]);
    assert_eq!(latest(&monitor, 1).context().delivery_id, 1);
    let mut with_params = ev(4).job(Some("d")).repo("acme/x", "main", "2");
    with_params.0.notification.global_params = vec![GlobalParam {
        key: Some("k".into()),
        value: Some("v".into()),
        ..GlobalParam::default()
    }];
    feed(&mut monitor, [with_params]);
    let run = latest(&monitor, 1);
    assert_eq!(run.context().delivery_id, 4);
    assert_eq!(run.global_params().len(), 1);
}

#[test]
fn log_entries_share_their_runs_checkouts_when_the_repository_branch_and_commit_match() {
    let mut m = Monitor::default();
    let upstream = Source::Pipeline {
        build_number: Some(7),
        up_params: None,
        extra: Default::default(),
    };
    let mut second = ev(2).job(Some("test")).repo("acme/app", "main", "abc");
    second.0.notification.sources.push(upstream);
    feed(
        &mut m,
        [
            ev(1).repo("acme/app", "main", "abc"),
            second,
            ev(3).job(Some("lint")).repo("acme/app", "main", "def"),
        ],
    );
    let run = latest(&m, 1);
    let checkouts: Vec<_> = m
        .log()
        .entries()
        .filter_map(|entry| match &entry.event {
            LogEvent::Accepted(entry) => Some(entry.checkouts.clone()),
            LogEvent::Rejected(_) | LogEvent::Noted(_) | LogEvent::Outcome(_) => None,
        })
        .collect();
    assert_eq!(checkouts.len(), 3);
    assert_eq!(checkouts[0][0].commit_id.as_deref(), Some("abc"));
    assert_eq!(checkouts[1][0].commit_id.as_deref(), Some("abc"));
    assert_eq!(checkouts[2][0].commit_id.as_deref(), Some("def"));
    assert!(Arc::ptr_eq(&checkouts[2], run.checkouts()));
    assert!(!Arc::ptr_eq(&checkouts[0], &checkouts[2]));
}

#[test]
fn jobs_of_a_run_keep_their_own_urls_and_share_equal_ones() {
    let mut m = Monitor::default();
    let mut other = ev(3).job(Some("lint"));
    other.job_mut().pipeline_url = Some("https://gitee.example/p/2".into());
    feed(
        &mut m,
        [ev(1), ev(2).job(Some("test")), other, ev(4).code("FAIL")],
    );
    let run = latest(&m, 1);
    let urls: Vec<_> = run
        .jobs()
        .map(|(_, job)| (job.name(), job.pipeline_url()))
        .collect();
    assert_eq!(
        urls,
        [
            (Some("compile"), Some("https://gitee.example/p/1")),
            (Some("test"), Some("https://gitee.example/p/1")),
            (Some("lint"), Some("https://gitee.example/p/2")),
        ]
    );
    let url = |i: usize| urls[i].1.map(str::as_ptr);
    assert_eq!(url(0), url(1), "one copy of the run's URL");

    let mut dirty = ev(5).job(Some("test"));
    dirty.job_mut().pipeline_url = Some("https://gitee.example/p/1\u{1b}[2J\n".into());
    feed(&mut m, [dirty.code("FAIL")]);
    let test = latest(&m, 1)
        .jobs()
        .find(|(_, job)| job.name() == Some("test"));
    assert_eq!(
        test.and_then(|(_, job)| job.pipeline_url()),
        Some("https://gitee.example/p/1 ")
    );
}

#[test]
fn names_found_by_their_raw_text_are_what_cleaning_would_find() {
    let mut names = model::Names::new(8);
    let clean = names.get("Build\u{1b}[31m");
    assert_eq!(&*clean, "Build");
    assert!(Arc::ptr_eq(&names.get("Build"), &clean));
    assert!(Arc::ptr_eq(&names.get("Build\u{7}"), &clean));
    let cut = names.get("integration");
    assert_eq!(&*cut, "integra…");
    assert!(Arc::ptr_eq(&names.get("integra…"), &cut));
}

proptest::proptest! {
    /// The raw-first lookup in `Names` relies on this: cleaned text cleans to itself.
    #[test]
    fn cleaning_is_idempotent(text in "\\PC*|[\\x00-\\x7f\u{85}\u{9b}\u{202e}构]{0,40}", width in 0usize..16) {
        let once = crate::text::clean(&text, width).into_owned();
        let twice = crate::text::clean(&once, width).into_owned();
        proptest::prop_assert_eq!(&twice, &once);
        let mut names = model::Names::new(width);
        proptest::prop_assert_eq!(&*names.get(&text), once.as_str());
        proptest::prop_assert_eq!(&*names.get(&once), once.as_str());
    }
}
