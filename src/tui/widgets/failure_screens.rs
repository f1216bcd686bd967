//! Rendering snapshots of the states a failure goes through: a red pipeline with a newer run
//! going, the FAIL filter keeping it with its stage around it, a retry, a flaky job, the
//! history strip, the failed-first order, the way from one failure to the next with what
//! changed since the last pass, and the help at 80×24.

use super::tests::{base, context, delivery};
use crate::monitor::{Monitor, StatusFilter};
use crate::tui::keys::Action;
use crate::tui::view::{Focus, View};
use chrono::Duration;

/// One job's status at `secs` after the base time, for pipeline `id`.
#[allow(clippy::too_many_arguments)]
fn post(
    monitor: &mut Monitor,
    secs: i64,
    id: u64,
    name: &str,
    build: u64,
    stage: &str,
    job: &str,
    code: &str,
    env: &str,
) {
    let body = serde_json::json!({
        "job": {
            "pipelineId": id, "pipelineName": name, "stageName": stage, "jobName": job,
            "buildNumber": build, "statusCode": code,
            "pipelineUrl": format!("https://e.gitee.com/acme/pipelines/{id}/history/{build}"),
        },
        "sources": [{
            "sourceType": "GITEE_GO", "repoPath": format!("acme/{name}"), "branch": "main",
            "commitId": format!("{:x}{build:04}c0ffee", id * 7_919),
        }],
        "globalParams": [{"key": "ENV", "value": env}, {"key": "TRIGGER", "value": "push"}],
    });
    let seq = monitor.totals().accepted + 1;
    monitor.apply(&delivery(
        seq,
        base() + Duration::seconds(secs),
        body.to_string().as_bytes(),
    ));
}

/// A day of runs, ending at base + 3600s: `backend-ci` red since #41 with #45 going, `web`
/// re-running a failed job, `api` with a job that passed on its second attempt, `docs` green.
fn day() -> Monitor {
    let mut m = Monitor::default();
    let plan = [
        (40, "SUCC"),
        (41, "FAIL"),
        (42, "SUCC"),
        (43, "FAIL"),
        (44, "FAIL"),
    ];
    let mut t = 0;
    for (build, unit) in plan {
        for job in ["compile", "unit", "integration"] {
            let stage = if job == "compile" { "Build" } else { "Test" };
            let code = if job == "unit" { unit } else { "SUCC" };
            let env = if build == 44 { "prod" } else { "staging" };
            post(
                &mut m,
                t,
                1,
                "backend-ci",
                build,
                stage,
                job,
                "RUNNING",
                env,
            );
            post(
                &mut m,
                t + 130,
                1,
                "backend-ci",
                build,
                stage,
                job,
                code,
                env,
            );
            t += 200;
        }
    }
    post(
        &mut m, 3000, 4, "docs", 12, "Build", "mdbook", "RUNNING", "staging",
    );
    post(
        &mut m, 3050, 4, "docs", 12, "Build", "mdbook", "SUCC", "staging",
    );
    for (secs, code) in [
        (3100, "RUNNING"),
        (3160, "FAIL"),
        (3200, "RUNNING"),
        (3300, "SUCC"),
    ] {
        post(&mut m, secs, 3, "api", 9, "Test", "e2e", code, "staging");
    }
    for (secs, code) in [(3400, "RUNNING"), (3450, "FAIL"), (3500, "RUNNING")] {
        post(&mut m, secs, 2, "web", 7, "Test", "e2e", code, "staging");
    }
    post(
        &mut m,
        3550,
        1,
        "backend-ci",
        45,
        "Build",
        "compile",
        "RUNNING",
        "prod",
    );
    m
}

/// Rendered an hour after the day began.
fn screen(monitor: &Monitor, view: &View, width: u16, height: u16) -> String {
    super::tests::render_at(monitor, view, &context(true), width, height, 3600)
}

#[test]
fn a_red_pipeline_with_a_newer_run_going_keeps_its_failure_mark_and_history() {
    let monitor = day();
    let screen = screen(&monitor, &View::new(), 140, 30);
    assert!(screen.contains("last ✗ #44"), "{screen}");
    assert!(screen.contains("✓✗✓✗✗●"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn the_fail_filter_keeps_a_red_pipeline_and_its_failed_run_among_its_stage() {
    let monitor = day();
    let mut view = View::new();
    view.act(Action::Filter(StatusFilter::Failed), &monitor);
    let screen = screen(&monitor, &view, 140, 30);
    assert!(screen.contains("backend-ci"), "{screen}");
    assert!(screen.contains("#44"), "{screen}");
    assert!(
        screen.contains("integration"),
        "the passing jobs stay as context:\n{screen}"
    );
    insta::assert_snapshot!(screen);
}

#[test]
fn a_retried_job_shows_its_attempt_and_the_failed_one_in_the_detail() {
    let monitor = day();
    let mut view = View::new();
    view.act(Action::Down, &monitor);
    view.act(Action::Enter, &monitor);
    view.act(Action::Enter, &monitor);
    let screen = screen(&monitor, &view, 140, 30);
    assert!(screen.contains("retry 2"), "{screen}");
    assert!(screen.contains("#1 ✗ failed after 50s"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn a_job_that_passed_on_its_second_attempt_is_flaky() {
    let monitor = day();
    let mut view = View::new();
    view.act(Action::Down, &monitor);
    view.act(Action::Down, &monitor);
    view.act(Action::Enter, &monitor);
    view.act(Action::Enter, &monitor);
    let screen = screen(&monitor, &view, 140, 30);
    assert!(screen.contains("✓ SUCC · flaky"), "{screen}");
    assert!(
        screen.contains("failed, then passed when re-run in this build"),
        "{screen}"
    );
    insta::assert_snapshot!(screen);
}

#[test]
fn the_next_failure_key_opens_the_failed_job_with_what_changed_since_it_last_passed() {
    let monitor = day();
    let mut view = View::new();
    view.act(Action::NextFailure, &monitor);
    assert_eq!(view.focus, Focus::Detail);
    let screen = screen(&monitor, &view, 140, 40);
    assert!(screen.contains("backend-ci › Test › unit  #44"), "{screen}");
    assert!(screen.contains("passed    #42"), "{screen}");
    assert!(screen.contains("ENV staging → prod"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn sorted_failed_first_the_red_pipelines_lead_and_the_title_says_so() {
    let monitor = day();
    let mut view = View::new();
    view.act(Action::Sort, &monitor);
    let screen = screen(&monitor, &view, 140, 30);
    assert!(screen.contains("by failed first"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn the_help_fits_80_by_24_and_scrolls_to_its_last_key() {
    let monitor = day();
    let mut view = View::new();
    view.act(Action::Help, &monitor);
    let top = screen(&monitor, &view, 80, 24);
    assert!(top.contains("j/k scroll"), "{top}");
    view.act(Action::Bottom, &monitor);
    let bottom = screen(&monitor, &view, 80, 24);
    assert!(bottom.contains("q/Ctrl-C"), "{bottom}");
    // Paging on past the end stays at the end, so one step up is one row up at once.
    view.act(Action::PageDown, &monitor);
    assert_eq!(screen(&monitor, &view, 80, 24), bottom);
    view.act(Action::Up, &monitor);
    assert_ne!(screen(&monitor, &view, 80, 24), bottom);
    insta::assert_snapshot!(format!("{top}\n{bottom}"));
}

#[test]
fn at_80_by_24_the_detail_pane_says_there_is_more_and_scrolls_to_it() {
    let monitor = day();
    let mut view = View::new();
    view.act(Action::NextFailure, &monitor);
    let first = screen(&monitor, &view, 80, 24);
    assert!(first.contains("more · j/k scroll"), "{first}");
    for _ in 0..60 {
        view.act(Action::Down, &monitor);
    }
    let last = screen(&monitor, &view, 80, 24);
    assert!(last.contains("k scrolls up"), "{last}");
    assert!(last.contains("TRIGGER"), "{last}");
    view.act(Action::Up, &monitor);
    assert_ne!(
        screen(&monitor, &view, 80, 24),
        last,
        "one step up shows one row more"
    );
    view.act(Action::Top, &monitor);
    view.act(Action::Bottom, &monitor);
    assert_eq!(
        screen(&monitor, &view, 80, 24),
        last,
        "G goes to the last row"
    );
}

#[test]
fn enter_on_an_event_log_entry_opens_its_pipeline_run_and_job() {
    let monitor = day();
    let mut view = View::new();
    view.act(Action::FocusPrev, &monitor);
    assert_eq!(view.focus, Focus::Log);
    view.act(Action::Up, &monitor);
    view.act(Action::Enter, &monitor);
    assert_eq!(view.focus, Focus::Detail);
    let screen = screen(&monitor, &view, 140, 30);
    assert!(screen.contains("web › Test › e2e  #7"), "{screen}");
}

#[test]
fn g_in_the_event_log_shows_a_full_first_page_and_old_entries_carry_their_date() {
    let monitor = day();
    let mut view = View::new();
    view.act(Action::FocusPrev, &monitor);
    view.act(Action::Top, &monitor);
    let screen = super::tests::render_at(&monitor, &view, &context(true), 140, 30, 90_000);
    let log: Vec<&str> = screen
        .lines()
        .skip_while(|l| !l.contains("Events"))
        .skip(1)
        .take(4)
        .collect();
    assert!(
        log[0].contains("Nov 27 10:00:00 ● RUNNING backend-ci › Build › compile #40"),
        "{screen}"
    );
    assert!(
        log.iter().all(|l| l.contains("Nov 27 10:0")),
        "a full page:\n{screen}"
    );
}

#[test]
fn y_offers_the_url_commit_branch_and_detail_of_the_selected_job() {
    let monitor = day();
    let mut view = View::new();
    view.act(Action::NextFailure, &monitor);
    view.act(Action::Copy, &monitor);
    let screen = screen(&monitor, &view, 140, 30);
    for offer in [
        " u pipelineUrl",
        " c commit",
        " b branch",
        " d job's detail",
    ] {
        assert!(screen.contains(offer), "{offer} missing:\n{screen}");
    }
    let key = |c| {
        crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Char(c),
            crossterm::event::KeyModifiers::NONE,
        )
    };
    assert_eq!(
        view.key(key('c'), &monitor),
        crate::tui::view::Errand::Copy('c')
    );
    assert!(!view.copy_menu);
    let clock = super::tests::clock(3600);
    let choices = super::copy::choices(&monitor, &view, &clock);
    assert_eq!(choices[1].text, "1eef0044c0ffee");
    let detail = &choices[3].text;
    assert!(
        detail.starts_with("backend-ci › Test › unit  #44\n"),
        "{detail}"
    );
    assert!(detail.contains("ENV staging → prod"), "{detail}");
}

#[test]
fn long_names_that_differ_only_at_the_end_stay_apart_and_end_their_cut_with_an_ellipsis() {
    let mut monitor = Monitor::default();
    for (id, region) in [(9, "eu-west"), (10, "us-east")] {
        let name = format!("deploy-the-payment-gateway-to-production-{region}");
        post(
            &mut monitor,
            0,
            id,
            &name,
            1,
            "Deploy",
            &name,
            "SUCC",
            "prod",
        );
    }
    let screen = screen(&monitor, &View::new(), 120, 30);
    let cut = |region: &str| {
        screen
            .lines()
            .filter(|line| {
                line.contains(&format!("…{region}")) || line.contains(&format!("…n-{region}"))
            })
            .count()
    };
    // In the pipelines table, and in the jobs pane of the selected one.
    assert_eq!(cut("eu-west"), 1, "{screen}");
    assert_eq!(cut("us-east"), 2, "{screen}");
}

#[test]
fn a_narrow_status_column_shows_the_code_whole_rather_than_code_and_name_cut() {
    let mut monitor = Monitor::default();
    for (seq, (job, code, name)) in [
        ("maven-build", "SUCC", "Success"),
        ("integration", "FAIL", "Failed"),
    ]
    .into_iter()
    .enumerate()
    {
        let body = serde_json::json!({"job": {
            "pipelineId": 7, "pipelineName": "payment-service", "stageName": "Build",
            "jobName": job, "buildNumber": 87, "statusCode": code, "statusName": name,
        }});
        monitor.apply(&delivery(
            seq as u64 + 1,
            base() + Duration::seconds(seq as i64),
            body.to_string().as_bytes(),
        ));
    }
    let view = View::new();
    let wide = screen(&monitor, &view, 160, 30);
    assert!(wide.contains("✓ SUCC Success"), "{wide}");
    let narrow = screen(&monitor, &view, 100, 30);
    assert!(
        narrow.contains("✓ SUCC ") && narrow.contains("✗ FAIL "),
        "{narrow}"
    );
    assert!(!narrow.contains('…'), "{narrow}");
}
