//! Parser throughput on one core: `cargo bench --bench parse`.
//!
//! Parses ~100 KB report pages (both formats, Word-style markup, padded with narrative to a
//! realistic size) for a few seconds and prints pages/s and MB/s: first the whole parse
//! (decode, HTML front end, interpretation, checks), then the HTML front end alone
//! (`report::html::parse_page`).
//!
//! For deterministic instruction counts (`valgrind --tool=callgrind`, the machine being shared
//! and noisy), `GKNB_BENCH_N=10` parses every page exactly that many times instead of for a few
//! seconds, and `GKNB_BENCH_PAD=0` drops the padding (the simulator's default pages).

use std::time::{Duration, Instant};

use gknb::model::{Format, Status};
use gknb::report::{self, Input};
use gknb::synth::{self, HtmlStyle};

fn main() {
    let pad = env_usize("GKNB_BENCH_PAD").unwrap_or(100_000);
    let pages: Vec<String> = (0..8u64)
        .map(|seed| {
            let format = if seed % 2 == 0 {
                Format::F2019
            } else {
                Format::F2021
            };
            let r = synth::consistent(format, 2020 + seed as i32 % 4, "示例县财政局", seed);
            let style = HtmlStyle {
                pad_to_bytes: pad,
                ..HtmlStyle::varied(seed)
            };
            synth::render_html(&r, &style)
        })
        .collect();
    let avg_kb = pages.iter().map(String::len).sum::<usize>() as f64 / pages.len() as f64 / 1024.0;
    for p in &pages {
        let r = report::parse(&Input {
            bytes: p.as_bytes(),
            source: "bench",
            content_type: None,
        });
        assert!(
            matches!(r.status, Status::Ok),
            "bench page must parse: {:?}",
            r.reason
        );
    }
    measure("parse", &pages, avg_kb, |p| {
        let r = report::parse(&Input {
            bytes: p.as_bytes(),
            source: "bench",
            content_type: None,
        });
        std::hint::black_box(r);
    });
    measure("html front end", &pages, avg_kb, |p| {
        std::hint::black_box(report::html::parse_page(p));
    });
}

/// Runs `f` over the pages for a few seconds and prints throughput.
fn measure(what: &str, pages: &[String], avg_kb: f64, f: impl Fn(&str)) {
    let budget = Duration::from_secs(4);
    let rounds = env_usize("GKNB_BENCH_N");
    let cpu_start = cpu_seconds();
    let start = Instant::now();
    let (mut n, mut bytes, mut round) = (0usize, 0usize, 0usize);
    while rounds.map_or(start.elapsed() < budget, |r| round < r) {
        for p in pages {
            f(p);
            n += 1;
            bytes += p.len();
        }
        round += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{what}: {n} pages of {avg_kb:.0} KB avg in {secs:.2} s wall on one thread: {:.0} pages/s, {:.1} MB/s",
        n as f64 / secs,
        bytes as f64 / secs / 1e6
    );
    // Wall time undercounts on a busy machine; CPU time is what one core delivers.
    if let (Some(a), Some(b)) = (cpu_start, cpu_seconds()) {
        let cpu = b - a;
        println!(
            "{what}: {cpu:.2} s of CPU: {:.0} pages per CPU-second, {:.1} MB per CPU-second",
            n as f64 / cpu,
            bytes as f64 / cpu / 1e6
        );
    }
}

/// A numeric environment variable, when set and valid.
fn env_usize(name: &str) -> Option<usize> {
    std::env::var(name).ok()?.parse().ok()
}

/// User + system CPU time of this process, from /proc (Linux); `None` elsewhere.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}
