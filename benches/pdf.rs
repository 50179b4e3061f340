//! PDF reports parsed per second on one core: `cargo bench --bench pdf`.
//!
//! Parses the generated fixture reports (ruled over three pages, borderless) end to end, through
//! `report::parse`, in one thread, and prints reports per second. Pass PDF paths as arguments
//! to measure other files (for example real reports) the same way.

use std::time::{Duration, Instant};

use gknb::report::{Input, parse};

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pdf");
    let mut paths: Vec<std::path::PathBuf> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .map(Into::into)
        .collect();
    if paths.is_empty() {
        paths = ["r2021-ruled.pdf", "r2021-borderless.pdf", "r2019-ruled.pdf"]
            .iter()
            .map(|f| root.join(f))
            .collect();
    }
    let docs: Vec<(String, Vec<u8>)> = paths
        .iter()
        .filter_map(|p| Some((p.display().to_string(), std::fs::read(p).ok()?)))
        .collect();
    for (name, bytes) in &docs {
        let (n, elapsed) = run(name, bytes, Duration::from_secs(3));
        let per_sec = n as f64 / elapsed.as_secs_f64();
        println!(
            "{name}: {n} parses in {:.2} s = {per_sec:.1} PDF reports/s ({:.1} ms each, {} KiB)",
            elapsed.as_secs_f64(),
            1000.0 / per_sec,
            bytes.len() / 1024
        );
    }
}

/// Parses the document repeatedly for about `budget`, returning how many times and how long.
fn run(name: &str, bytes: &[u8], budget: Duration) -> (u32, Duration) {
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed() < budget || n < 3 {
        let r = parse(&Input {
            bytes,
            source: name,
            content_type: None,
        });
        std::hint::black_box(&r);
        n += 1;
    }
    (n, start.elapsed())
}
