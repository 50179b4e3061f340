//! Parser throughput on one core: `cargo bench --bench parse`.
//!
//! Parses ~100 KB report pages (both formats, Word-style markup, padded with narrative to a
//! realistic size) for a few seconds and prints pages/s and MB/s.

use std::time::{Duration, Instant};

use gknb::model::{Format, Status};
use gknb::report::{self, Input};
use gknb::synth::{self, HtmlStyle};

fn main() {
    let pages: Vec<String> = (0..8u64)
        .map(|seed| {
            let format = if seed % 2 == 0 {
                Format::F2019
            } else {
                Format::F2021
            };
            let r = synth::consistent(format, 2020 + seed as i32 % 4, "示例县财政局", seed);
            let style = HtmlStyle {
                pad_to_bytes: 100_000,
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
    let budget = Duration::from_secs(4);
    let start = Instant::now();
    let (mut n, mut bytes) = (0usize, 0usize);
    while start.elapsed() < budget {
        for p in &pages {
            let r = report::parse(&Input {
                bytes: p.as_bytes(),
                source: "bench",
                content_type: None,
            });
            std::hint::black_box(r);
            n += 1;
            bytes += p.len();
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "parse: {n} pages of {avg_kb:.0} KB avg in {secs:.2} s on one core: {:.0} pages/s, {:.1} MB/s",
        n as f64 / secs,
        bytes as f64 / secs / 1e6
    );
}
