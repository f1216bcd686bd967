//! What reading one webhook body costs: the documented sample as strict JSON, the same sample
//! as the documentation prints it (so the tolerant parser has to repair it), and a larger
//! notification of the kind a monorepo pipeline with many sources and parameters sends; and,
//! as a floor, the documented sample parsed into an untyped `serde_json::Value`. The large one is
//! also measured with the credential redaction the receiver applies after parsing, and the
//! documented sample is read back from the journal line pipetop writes for it, as every line is
//! on a start without a saved screen.
//!
//! The `hostile` group is the other side: bodies of the largest size accepted by default
//! (`--max-body` 1 MiB), each made of one shape that drives a part of the parser as hard as it
//! can be driven, so the worst time one request can hold a worker shows.
//!
//! `cargo bench --bench parse`; the results are recorded in BENCHMARKS.md.

use chrono::DateTime;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pipetop::delivery::Delivery;
use pipetop::gitee::{Auth, Redactor, parse_notification};
use pipetop::store::journal;
use serde_json::json;
use std::hint::black_box;

const DOC_SAMPLE_JSON: &[u8] = include_bytes!("../tests/fixtures/doc-sample.json");
const DOC_SAMPLE_TXT: &[u8] = include_bytes!("../tests/fixtures/doc-sample.txt");

/// A notification about ten times the documented sample: several upstream pipelines, each
/// with a real `upParams` string, artifacts, and forty global parameters with Chinese text.
fn large_payload() -> Vec<u8> {
    let mut sources = vec![json!({
        "sourceType": "GITEE_GO",
        "repoPath": "acme-platform/payments-monorepo",
        "branch": "release/2026.11",
        "commitId": "c2a64f66a9536200f9dc464427e793c3444b1113",
    })];
    for n in 0..6 {
        let up = json!({
            "GITEE_REPO": format!("acme-platform/service-{n}"),
            "GITEE_BRANCH": "master",
            "GITEE_COMMIT": format!("{n:040x}"),
            "GITEE_PIPELINE_NAME": format!("service-{n}-build"),
            "DEPLOY_ENV": "staging",
        });
        sources.push(json!({
            "sourceType": "PIPELINE",
            "buildNumber": 1000 + n,
            "upParams": up.to_string(),
        }));
        sources.push(json!({
            "sourceType": "CODE_LEVEL_ARTIFACT",
            "artifactRepo": "default",
            "artifactVersion": format!("v2.{n}.17-rc.3"),
        }));
    }
    let global_params: Vec<_> = (0..40)
        .map(|n| json!({ "key": format!("PARAM_{n}"), "value": format!("值-{n}-staging-华东-2") }))
        .collect();
    let body = json!({
        "job": {
            "pipelineId": 255039,
            "pipelineName": "payments-monorepo 发布流水线",
            "stageName": "集成测试",
            "jobName": "contract-tests (shard 3/8)",
            "buildNumber": 4217,
            "statusCode": "FAIL",
            "statusName": "失败",
            "pipelineUrl": "https://e.gitee.com/acme/projects/210455/pipelines/255039/history/426411/stages/741137/jobs/1018636?buildNumber=4217",
        },
        "sources": sources,
        "globalParams": global_params,
    });
    body.to_string().into_bytes()
}

/// The line the journal holds for `body`, received and sent at pipetop's millisecond form.
fn journal_line(body: &[u8]) -> Vec<u8> {
    let parsed = parse_notification(body).expect("the sample parses");
    let at = DateTime::from_timestamp_millis(1_795_000_000_123).expect("a time");
    let delivery = Delivery {
        id: 1,
        received_at: at,
        sent_at: Some(at),
        auth: Auth::Signature,
        repaired: parsed.repaired(),
        headers: Default::default(),
        notification: parsed.notification,
    };
    journal::line(&delivery, None).expect("the delivery serializes")
}

fn parse(c: &mut Criterion) {
    let large = large_payload();
    let mut group = c.benchmark_group("parse");
    for (name, body) in [
        ("doc-sample.json (strict)", DOC_SAMPLE_JSON),
        ("doc-sample.txt (tolerant)", DOC_SAMPLE_TXT),
        ("large (strict)", large.as_slice()),
    ] {
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(name, |b| b.iter(|| parse_notification(black_box(body))));
    }
    // What the receiver does after parsing: hide the secret and fields named like credentials.
    let redactor = Redactor::new(Some("123654"));
    group.throughput(Throughput::Bytes(large.len() as u64));
    group.bench_function("large (strict, then redacted)", |b| {
        b.iter(|| {
            let mut parsed = parse_notification(black_box(&large)).ok()?;
            redactor.notification(&mut parsed.notification);
            Some(parsed)
        })
    });
    // A journal line: the notification and the line's two timestamps.
    let line = journal_line(DOC_SAMPLE_JSON);
    group.throughput(Throughput::Bytes(line.len() as u64));
    group.bench_function("doc-sample journal line", |b| {
        b.iter(|| journal::parse_line(black_box(&line)))
    });
    // The floor: the same bytes into an untyped tree, so the typed parser's overhead shows.
    group.throughput(Throughput::Bytes(DOC_SAMPLE_JSON.len() as u64));
    group.bench_function("doc-sample.json as serde_json::Value (reference)", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(DOC_SAMPLE_JSON)))
    });
    group.finish();
}

/// The default `--max-body`.
const MAX_BODY: usize = 1024 * 1024;

/// `prefix`, then `unit` as often as fits, then `suffix`: one body of at most [`MAX_BODY`].
fn filled(prefix: &str, unit: &str, suffix: &str) -> Vec<u8> {
    let units = (MAX_BODY - prefix.len() - suffix.len()) / unit.len();
    [prefix, &unit.repeat(units), suffix].concat().into_bytes()
}

/// The shapes that cost the tolerant parser most, each at the size limit.
fn hostile_bodies() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        // A comment on every line: a repair every three bytes.
        ("line comments", filled("{", "//\n", "}")),
        ("block comments", filled("{", "/**/", "}")),
        // Candidates for the unescaped-`upParams` repair that never close, on one line.
        ("upParams candidates", filled("{\"k\":", "\"{\"x\":", "}")),
        // Candidates that do close: a repair, and a marker object, every fourteen bytes.
        (
            "upParams repairs",
            filled("{", "\"a\":\"{\"b\":1}\",", "\"c\":1}"),
        ),
        // One candidate whose object opens a million brackets.
        (
            "deep nesting in a candidate",
            filled("{\"k\":\"{\"a\":", "[", ""),
        ),
        ("deep nesting", filled("", "[", "")),
        // A valid string made only of escapes, after a comment so the repair path reads it.
        (
            "escaped string",
            filled("// x\n{\"job\":{\"jobName\":\"", "\\\\\\\"", "\"}}"),
        ),
        // Unbalanced quotes and backslashes after a candidate.
        ("quotes and backslashes", filled("{\"k\":\"{\"", "\\\"", "")),
        // Valid JSON, so only the strict parser runs: the costliest shapes for it, an unknown
        // field holding the most values, and the most objects, a body can.
        ("strict: array of zeros", filled("{\"x\":[", "0,", "0]}")),
        (
            "strict: array of empty objects",
            filled("{\"x\":[", "{},", "{}]}"),
        ),
    ]
}

fn hostile(c: &mut Criterion) {
    let mut group = c.benchmark_group("hostile");
    for (name, body) in hostile_bodies() {
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(name, |b| b.iter(|| parse_notification(black_box(&body))));
    }
    group.finish();
}

criterion_group!(benches, parse, hostile);
criterion_main!(benches);
