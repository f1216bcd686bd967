//! What is kept as runs arrive: durations from the sender's clock, the history strip, since
//! when a pipeline is red and when it was last green, and the orders of the pipelines table.

use super::*;

fn pipeline(monitor: &Monitor) -> &Pipeline {
    monitor.pipeline(&PipelineKey::Id(1)).unwrap()
}

fn run_of(build: u64, code: &str, id: u64) -> Ev {
    ev(id).build(Some(build)).code(code).sent(id as i64 * 100)
}

#[test]
fn durations_count_from_the_first_unfinished_status_by_the_senders_clock() {
    let mut monitor = Monitor::default();
    feed(
        &mut monitor,
        [
            ev(1).job(Some("a")).code("WAITING").sent(10),
            ev(2).job(Some("a")).code("RUNNING").sent(20),
            ev(3).job(Some("b")).code("RUNNING").sent(25),
            ev(4).job(Some("a")).code("SUCC").sent(70),
        ],
    );
    let run = latest(&monitor, 1);
    let job = |name| run.jobs().find(|(_, j)| j.name() == Some(name)).unwrap().1;
    assert_eq!(job("a").started_at(), Some(at(10)));
    assert_eq!(job("a").duration(), Some(chrono::TimeDelta::seconds(60)));
    assert_eq!(job("b").duration(), None, "still running");
    assert_eq!(run.started_at(), at(10));
    assert_eq!(run.duration(), None);

    feed(&mut monitor, [ev(5).job(Some("b")).code("FAIL").sent(130)]);
    let run = latest(&monitor, 1);
    assert_eq!(run.ended_at(), Some(at(130)));
    assert_eq!(run.duration(), Some(chrono::TimeDelta::seconds(120)));
}

#[test]
fn without_a_sender_timestamp_the_time_of_arrival_counts_and_a_final_first_status_has_no_duration()
{
    let mut monitor = Monitor::default();
    feed(&mut monitor, [ev(7).code("RUNNING"), ev(9).code("SUCC")]);
    let run = latest(&monitor, 1);
    let (_, job) = run.jobs().next().unwrap();
    assert_eq!(job.duration(), Some(chrono::TimeDelta::seconds(2)));
    assert_eq!(run.started_at(), at(7));

    feed(
        &mut monitor,
        [ev(10).job(Some("x")).build(Some(2)).code("SUCC")],
    );
    let run = latest(&monitor, 1);
    let (_, job) = run.jobs().next().unwrap();
    assert_eq!(job.duration(), None);
    assert_eq!(run.duration(), Some(chrono::TimeDelta::zero()));
}

#[test]
fn the_history_strip_holds_the_latest_runs_oldest_first_up_to_twenty() {
    let mut monitor = Monitor::default();
    let codes = ["SUCC", "SUCC", "FAIL", "SUCC", "FAIL", "FAIL"];
    feed(
        &mut monitor,
        codes
            .iter()
            .enumerate()
            .map(|(i, code)| run_of(i as u64 + 1, code, i as u64 + 1)),
    );
    use Status::{Failed as F, Success as S};
    assert_eq!(pipeline(&monitor).record().strip(), [S, S, F, S, F, F]);

    feed(&mut monitor, [run_of(7, "RUNNING", 7)]);
    assert_eq!(
        pipeline(&monitor).record().strip().last(),
        Some(&Status::Running)
    );
    feed(&mut monitor, (8..40).map(|b| run_of(b, "SUCC", b)));
    let strip = pipeline(&monitor).record().strip();
    assert_eq!(strip.len(), STRIP);
    assert!(strip.iter().all(|s| *s == Status::Success));
}

#[test]
fn red_since_is_the_first_failure_after_the_last_green_run() {
    let mut monitor = Monitor::default();
    feed(
        &mut monitor,
        [
            run_of(40, "SUCC", 1),
            run_of(41, "FAIL", 2),
            run_of(42, "CANCEL", 3),
            run_of(43, "FAIL", 4),
        ],
    );
    let record = pipeline(&monitor).record();
    let since = record.red_since().unwrap();
    assert_eq!((since.build, since.at), (Some(41), at(200)));
    assert_eq!(record.last_green().map(|m| m.build), Some(Some(40)));

    feed(&mut monitor, [run_of(44, "RUNNING", 5)]);
    let record = pipeline(&monitor).record();
    assert_eq!(record.red_since().map(|m| m.build), Some(Some(41)));

    feed(&mut monitor, [run_of(44, "SUCC", 6)]);
    let record = pipeline(&monitor).record();
    assert_eq!(record.red_since(), None);
    assert_eq!(record.last_green().map(|m| m.build), Some(Some(44)));
}

#[test]
fn red_since_and_last_green_outlive_the_runs_they_name() {
    let mut monitor = Monitor::new(Limits {
        runs_per_pipeline: 3,
        ..Limits::default()
    });
    feed(&mut monitor, [run_of(1, "SUCC", 1)]);
    feed(&mut monitor, (2..=8).map(|b| run_of(b, "FAIL", b)));
    let app = pipeline(&monitor);
    assert_eq!(app.runs().len(), 3);
    assert_eq!(app.record().red_since().map(|m| m.build), Some(Some(2)));
    assert_eq!(app.record().last_green().map(|m| m.build), Some(Some(1)));
}

#[test]
fn the_pipelines_sort_by_activity_failures_name_or_duration_and_positions_agree() {
    let mut monitor = Monitor::default();
    feed(
        &mut monitor,
        [
            ev(1)
                .pipeline(Some(1), Some("beta"))
                .code("RUNNING")
                .sent(0),
            ev(2).pipeline(Some(1), Some("beta")).code("SUCC").sent(300),
            ev(3)
                .pipeline(Some(2), Some("Alpha"))
                .code("RUNNING")
                .sent(0),
            ev(4).pipeline(Some(2), Some("Alpha")).code("FAIL").sent(60),
            ev(5)
                .pipeline(Some(3), Some("gamma"))
                .code("RUNNING")
                .sent(0),
            ev(6)
                .pipeline(Some(3), Some("gamma"))
                .code("SUCC")
                .sent(120),
            ev(7).pipeline(Some(4), Some("delta")).code("RUNNING"),
        ],
    );
    let by = |order| Filter {
        order,
        ..Filter::default()
    };
    assert_eq!(
        titles(&monitor, &by(Order::Recent)),
        ["delta", "gamma", "Alpha", "beta"]
    );
    assert_eq!(
        titles(&monitor, &by(Order::FailedFirst)),
        ["Alpha", "delta", "gamma", "beta"]
    );
    assert_eq!(
        titles(&monitor, &by(Order::Name)),
        ["Alpha", "beta", "delta", "gamma"]
    );
    assert_eq!(
        titles(&monitor, &by(Order::Duration)),
        ["beta", "gamma", "Alpha", "delta"]
    );
    for order in Order::ALL {
        let filter = by(order);
        for (i, p) in monitor.pipelines(&filter).enumerate() {
            assert_eq!(monitor.pipeline_position(&filter, p.key()), Some(i));
        }
    }
    assert_eq!(Order::Duration.next(), Order::Recent);
}
