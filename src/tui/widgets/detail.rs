//! The detail pane: everything known about the selected job: its status and times (start,
//! duration, earlier attempts, flakiness), the pipeline's red streak and last green run, what
//! changed since it last passed, the pipelineUrl, the fields of its delivery that arrived in another shape (each named, with its
//! value as received), every source (repository, upstream pipeline and its parameters,
//! artifact, or any other type's fields), and the globalParams. Long text wraps here, and only
//! here.

use super::cells::duration;
use super::{Clock, Scene, pane, safe_opt};
use crate::gitee::{Source, Status, UpParams};
use crate::monitor::Monitor;
use crate::monitor::{Change, JobState, Pipeline, Run, Stage, flaky, since_passed};
use crate::text::clean_long;
use crate::tui::theme::{Theme, glyph};
use crate::tui::view::{Focus, View};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use serde_json::Value;

pub fn draw(frame: &mut Frame, area: Rect, scene: &Scene) {
    let (monitor, view, context, clock) = scene.parts();
    let theme = context.theme;
    let focused = view.focus == Focus::Detail;
    let block = pane(Line::styled(" Detail ", theme.title()), focused, context);
    let Some(lines) = lines(monitor, view, theme, clock) else {
        frame.render_widget(
            Paragraph::new(Line::styled("No job selected.", theme.label())).block(block),
            area,
        );
        return;
    };
    // Rows the lines take once wrapped, so the pane can say there is more below.
    let inner = usize::from(area.width.saturating_sub(2)).max(1);
    let rows: usize = lines
        .iter()
        .map(|line| line.width().div_ceil(inner).max(1))
        .sum();
    let height = usize::from(area.height.saturating_sub(2));
    let limit = rows.saturating_sub(height);
    view.detail_limit
        .set(u16::try_from(limit).unwrap_or(u16::MAX));
    let scroll = usize::from(view.detail_scroll).min(limit);
    let block = if rows > scroll + height {
        block.title_bottom(
            Line::styled(
                format!(" ↓ {} more · j/k scroll ", rows - scroll - height),
                theme.key(),
            )
            .right_aligned(),
        )
    } else if scroll > 0 {
        block.title_bottom(Line::styled(" ↑ k scrolls up ", theme.label()).right_aligned())
    } else {
        block
    };
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((u16::try_from(scroll).unwrap_or(u16::MAX), 0))
            .block(block),
        area,
    );
}

/// The selected job's detail as plain text, one line per line of the pane (for `y`).
pub fn text(monitor: &Monitor, view: &View, clock: &Clock) -> Option<String> {
    let lines = lines(monitor, view, Theme::new(false), clock)?;
    let text: Vec<String> = lines
        .iter()
        .map(|line| {
            line.spans
                .iter()
                .map(|span| span.content.as_ref())
                .collect()
        })
        .collect();
    Some(text.join("\n"))
}

/// The detail pane's lines for the selected job, if one is selected.
fn lines(
    monitor: &Monitor,
    view: &View,
    theme: Theme,
    clock: &Clock,
) -> Option<Vec<Line<'static>>> {
    let (pipeline, run, stage, job) = view.job(monitor)?;
    let status = job.status();
    let described = run.context();
    let mut lines = vec![
        Line::from(vec![
            Span::styled(
                format!(
                    "{} › {} › {}",
                    clean_long(&pipeline.title()),
                    clean_long(stage.name().unwrap_or("?")),
                    clean_long(job.name().unwrap_or("?")),
                ),
                theme.title(),
            ),
            Span::raw(run.build().map_or_else(String::new, |b| format!("  #{b}"))),
        ]),
        Line::from(vec![
            Span::styled(
                format!("{} {}", glyph(status), safe_opt(job.code())),
                theme.status(status),
            ),
            Span::raw(format!("  {}", safe_opt(job.status_name()))),
            Span::styled(
                format!(
                    "  at {} ({}) · delivery {}",
                    clock.time_of_day(job.updated_at()),
                    clock.ago_phrase(job.updated_at()),
                    job.delivery_id()
                ),
                theme.label(),
            ),
        ]),
    ];
    timing_lines(theme, clock, run, job, &mut lines);
    history_lines(theme, clock, pipeline, run, stage, job, &mut lines);
    if let Some(url) = job.pipeline_url() {
        lines.push(field(theme, "url", &clean_long(url)));
    }
    let mut notes = vec![format!("auth {}", described.auth.as_str())];
    if described.repaired {
        notes.push("body repaired by the tolerant parser".into());
    }
    if let Some(event) = &described.headers.gitee_event {
        notes.push(format!("X-Gitee-Event: {}", clean_long(event)));
    }
    if let Some(id) = &described.headers.request_id {
        notes.push(format!("X-Request-ID: {}", clean_long(id)));
    }
    lines.push(Line::styled(
        format!("  {}", notes.join(" · ")),
        theme.label(),
    ));
    if let Some(misfits) = job.misfits() {
        lines.push(Line::default());
        lines.push(Line::styled(
            format!("Unexpected shapes in delivery {}", job.delivery_id()),
            theme.title(),
        ));
        for (note, raw) in &misfits.shown {
            lines.push(Line::raw(format!("  {note}")));
            lines.push(Line::from(vec![
                Span::styled("    raw ", theme.label()),
                Span::raw(raw.to_string()),
            ]));
        }
        if misfits.more > 0 {
            lines.push(Line::styled(
                format!("  and {} more", misfits.more),
                theme.label(),
            ));
        }
    }

    lines.push(Line::default());
    lines.push(Line::styled("Sources", theme.title()));
    if run.sources().is_empty() {
        lines.push(Line::styled("  none sent", theme.label()));
    }
    for source in run.sources() {
        source_lines(theme, source, &mut lines);
    }

    lines.push(Line::default());
    lines.push(Line::styled("Global params", theme.title()));
    if run.global_params().is_empty() {
        lines.push(Line::styled("  none sent", theme.label()));
    }
    let width = run
        .global_params()
        .iter()
        .map(|p| {
            p.key
                .as_deref()
                .map_or(1, |k| clean_long(k).chars().count())
        })
        .max()
        .unwrap_or(0)
        .min(24);
    for param in run.global_params() {
        lines.push(Line::from(vec![
            Span::styled(
                format!(
                    "  {:<width$}",
                    clean_long(param.key.as_deref().unwrap_or("—"))
                ),
                theme.key(),
            ),
            Span::raw(format!("  {}", safe_opt(param.value.as_deref()))),
        ]));
    }

    Some(lines)
}

/// When the job started and how long it took (or has been going), its earlier attempts, and
/// the run's start and duration.
fn timing_lines(
    theme: Theme,
    clock: &Clock,
    run: &Run,
    job: &JobState,
    lines: &mut Vec<Line<'static>>,
) {
    let job_time = match (job.started_at(), job.duration()) {
        (Some(start), Some(took)) => format!(
            "started {} · took {}",
            clock.time_of_day(start),
            duration(took)
        ),
        (Some(start), None) => format!(
            "started {} · running {}",
            clock.time_of_day(start),
            duration(clock.now - start)
        ),
        (None, _) => "start not seen".to_owned(),
    };
    lines.push(field(theme, "job", &job_time));
    let run_time = match run.duration() {
        Some(took) => format!(
            "started {} · took {} · ended {}",
            clock.time_of_day(run.started_at()),
            duration(took),
            run.ended_at()
                .map_or_else(String::new, |end| clock.time_of_day(end)),
        ),
        None => format!(
            "started {} · running {}",
            clock.time_of_day(run.started_at()),
            duration(clock.now - run.started_at())
        ),
    };
    lines.push(field(theme, "run", &run_time));
    if job.retries() > 0 {
        lines.push(field(
            theme,
            "attempts",
            &format!(
                "{} (this is attempt {})",
                job.retries() + 1,
                job.retries() + 1
            ),
        ));
        let first = job.retries() as usize + 1 - job.attempts().len();
        for (n, attempt) in job.attempts().iter().enumerate() {
            let took = attempt
                .duration()
                .map_or_else(String::new, |took| format!(" after {}", duration(took)));
            lines.push(Line::from(vec![
                Span::styled(format!("    #{} ", first + n), theme.label()),
                Span::styled(
                    format!("{} {}", glyph(attempt.status), attempt.status.word()),
                    theme.status(attempt.status),
                ),
                Span::styled(
                    format!(
                        "{took} at {} · delivery {}",
                        clock.time_of_day(attempt.ended_at),
                        attempt.delivery_id
                    ),
                    theme.label(),
                ),
            ]));
        }
    }
}

/// Flakiness, the pipeline's red streak and last green run, and for a failed job what changed
/// since the pipeline last passed on this branch.
fn history_lines(
    theme: Theme,
    clock: &Clock,
    pipeline: &Pipeline,
    run: &Run,
    stage: &Stage,
    job: &JobState,
    lines: &mut Vec<Line<'static>>,
) {
    if let Some(flaky) = flaky(pipeline, run, stage, job) {
        let how = match flaky.failed_in {
            None => "failed, then passed when re-run in this build".to_owned(),
            Some(build) => format!(
                "failed in {} on the same commit, passed here",
                build.map_or_else(|| "a run".to_owned(), |b| format!("#{b}"))
            ),
        };
        lines.push(Line::from(vec![
            Span::styled(format!("  {:<9} ", "flaky"), theme.warning()),
            Span::raw(how),
        ]));
    }
    let record = pipeline.record();
    let mark = |build: Option<u64>, at| {
        format!(
            "{} ({})",
            build.map_or_else(|| "—".to_owned(), |b| format!("#{b}")),
            clock.ago_phrase(at)
        )
    };
    let mut streak = Vec::new();
    if let Some(since) = record.red_since() {
        streak.push(format!("✗ red since {}", mark(since.build, since.at)));
    }
    match record.last_green() {
        Some(green) => streak.push(format!("last green {}", mark(green.build, green.at))),
        None => streak.push("no green run seen".to_owned()),
    }
    lines.push(field(theme, "pipeline", &streak.join(" · ")));
    if job.status() != Status::Failed {
        return;
    }
    lines.push(Line::default());
    lines.push(Line::styled("Since it last passed", theme.title()));
    let Some(since) = since_passed(pipeline, run) else {
        lines.push(Line::styled(
            "  no successful run of this branch is kept",
            theme.label(),
        ));
        return;
    };
    let commit = |r: &Run| {
        r.checkout()
            .and_then(|c| c.commit_id.as_deref())
            .map_or_else(|| "—".to_owned(), |c| clean_long(c).into_owned())
    };
    let passed = since.passed;
    lines.push(field(
        theme,
        "passed",
        &format!(
            "{}{} at {} · commit {}",
            passed
                .build()
                .map_or_else(|| "—".to_owned(), |b| format!("#{b}")),
            passed
                .checkout()
                .and_then(|c| c.branch.as_deref())
                .map_or_else(String::new, |b| format!(" on {}", clean_long(b))),
            clock.time_of_day(passed.ended_at().unwrap_or(passed.started_at())),
            commit(passed)
        ),
    ));
    lines.push(field(
        theme,
        "failing",
        &format!(
            "{} · commit {}",
            run.build()
                .map_or_else(|| "—".to_owned(), |b| format!("#{b}")),
            commit(run)
        ),
    ));
    change_lines(theme, "globalParams", &since.global_params, lines);
    change_lines(theme, "upParams", &since.up_params, lines);
}

fn change_lines(theme: Theme, what: &str, changes: &[Change], lines: &mut Vec<Line<'static>>) {
    if changes.is_empty() {
        lines.push(Line::styled(format!("  {what}: the same"), theme.label()));
        return;
    }
    lines.push(Line::styled(
        format!("  {what} that differ:"),
        theme.label(),
    ));
    for change in changes {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".to_owned());
        lines.push(Line::from(vec![
            Span::styled(format!("    {}", change.key), theme.key()),
            Span::raw(format!(" {} → {}", show(&change.then), show(&change.now))),
        ]));
    }
}

fn field(theme: Theme, name: &str, value: &str) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("  {name:<9} "), theme.label()),
        Span::raw(value.to_owned()),
    ])
}

fn opt(value: &Option<String>) -> String {
    value
        .as_deref()
        .map_or_else(|| "—".to_owned(), |v| clean_long(v).into_owned())
}

fn source_lines(theme: Theme, source: &Source, lines: &mut Vec<Line<'static>>) {
    let kind = clean_long(source.source_type().unwrap_or("(no sourceType)")).into_owned();
    lines.push(Line::styled(format!("  {kind}"), theme.key()));
    match source {
        Source::GiteeGo {
            repo_path,
            branch,
            commit_id,
            ..
        } => {
            lines.push(field(theme, "  repo", &opt(repo_path)));
            lines.push(field(theme, "  branch", &opt(branch)));
            lines.push(field(theme, "  commit", &opt(commit_id)));
        }
        Source::Pipeline {
            build_number,
            up_params,
            ..
        } => {
            let build = build_number.map_or_else(|| "—".to_owned(), |b| format!("#{b}"));
            lines.push(field(theme, "  build", &build));
            up_params_lines(theme, up_params.as_ref(), lines);
        }
        Source::CodeLevelArtifact {
            artifact_repo,
            artifact_version,
            ..
        } => {
            lines.push(field(theme, "  repo", &opt(artifact_repo)));
            lines.push(field(theme, "  version", &opt(artifact_version)));
        }
        Source::Other { .. } => {}
    }
    for (key, value) in source.extra() {
        lines.push(field(
            theme,
            &format!("  {}", clean_long(key)),
            &value_text(value),
        ));
    }
}

fn up_params_lines(theme: Theme, up_params: Option<&UpParams>, lines: &mut Vec<Line<'static>>) {
    let Some(up) = up_params else {
        lines.push(field(theme, "  params", "—"));
        return;
    };
    lines.push(Line::from(vec![
        Span::styled("    params  ", theme.label()),
        Span::styled(format!("upParams as {}", up.form.describe()), theme.label()),
    ]));
    if let Some(text) = &up.text {
        lines.push(Line::raw(format!("      {}", clean_long(text))));
    }
    for (key, value) in &up.values {
        lines.push(Line::from(vec![
            Span::styled(format!("      {}", clean_long(key)), theme.key()),
            Span::raw(format!(" = {}", value_text(value))),
        ]));
    }
}

/// A JSON value as people read it: strings without quotes, anything else as compact JSON.
fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => clean_long(s).into_owned(),
        Value::Null => "null".into(),
        other => clean_long(&other.to_string()).into_owned(),
    }
}
