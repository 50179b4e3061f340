//! End-to-end import benchmark: generates report pages of both template formats with
//! `synth`, then imports them through the same library path as `gknb import` (read, parse,
//! store) and prints reports/s, facts/s and file size per report.
//!
//! `cargo bench --bench import` (10,000 pages); `GKNB_BENCH_N=2000` for a quicker run.

use std::path::PathBuf;
use std::time::Instant;

use gknb::model::Format;
use gknb::store::Archive;
use gknb::store::pipeline::{ImportOptions, import_files};
use gknb::synth::{self, HtmlStyle};

fn main() {
    let n: usize = std::env::var("GKNB_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let tmp = match tempfile::tempdir() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cannot create a temporary directory: {e}");
            std::process::exit(2);
        }
    };
    let pages = tmp.path().join("pages");
    if let Err(e) = std::fs::create_dir(&pages) {
        eprintln!("mkdir: {e}");
        std::process::exit(2);
    }

    let t = Instant::now();
    let mut page_bytes = 0usize;
    let mut paths: Vec<PathBuf> = Vec::with_capacity(n);
    for i in 0..n {
        // 5 years per agency: 2019-2020 in format 2019, 2021-2023 in format 2021.
        let year = 2019 + (i % 5) as i32;
        let format = if year >= 2021 {
            Format::F2021
        } else {
            Format::F2019
        };
        let agency = format!("基准县第{}局", i / 5);
        let r = synth::consistent(format, year, &agency, i as u64);
        let html = synth::render_html(&r, &HtmlStyle::varied(i as u64));
        page_bytes += html.len();
        let path = pages.join(format!("{i:05}.html"));
        if let Err(e) = std::fs::write(&path, html) {
            eprintln!("write: {e}");
            std::process::exit(2);
        }
        paths.push(path);
    }
    eprintln!(
        "generated {n} pages ({:.1} KB average) in {:.1}s",
        page_bytes as f64 / n as f64 / 1e3,
        t.elapsed().as_secs_f64()
    );

    let db = tmp.path().join("bench.sqlite");
    let mut archive = match Archive::open(&db) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let opts = ImportOptions {
        hint: gknb::store::AgencyHint {
            name: None,
            region: "bench".into(),
            portal: None,
        },
        year: None,
        workers: 0,
    };
    let t = Instant::now();
    let cpu0 = cpu_secs("/proc/self/stat");
    let summary = match import_files(&mut archive, &paths, &opts, &mut || {}) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("import failed: {e}");
            std::process::exit(2);
        }
    };
    let secs = t.elapsed().as_secs_f64();
    let cpu = cpu_secs("/proc/self/stat") - cpu0;
    // Fold the WAL into the main file so the size is the archive's real footprint.
    let _ = archive
        .conn()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
    let stats = archive.stats().ok();
    drop(archive);
    let file = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);

    println!("import benchmark: {n} synthetic report pages, both formats, end to end");
    println!("  reports imported   {}", summary.imported);
    println!("  statuses           {:?}", summary.by_status);
    println!("  errors             {}", summary.errors.len());
    println!("  facts              {}", summary.facts);
    println!("  wall time          {secs:.2} s");
    println!(
        "  CPU time           {cpu:.2} s ({:.1} ms per report over all threads; load average {})",
        cpu * 1e3 / summary.imported.max(1) as f64,
        std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|l| l.split_whitespace().next().map(str::to_string))
            .unwrap_or_default()
    );
    println!("  reports/s          {:.0}", summary.imported as f64 / secs);
    println!("  facts/s            {:.0}", summary.facts as f64 / secs);
    println!(
        "  file size          {:.1} MB ({:.1} KB per report; raw pages {:.1} KB average)",
        file as f64 / 1e6,
        file as f64 / 1e3 / summary.imported.max(1) as f64,
        page_bytes as f64 / 1e3 / n as f64
    );
    if let Some(s) = stats {
        println!(
            "  primary reports    {}, duplicates {}",
            s.primary_reports, s.duplicate_reports
        );
    }
    phases(&paths[..paths.len().min(1000)], tmp.path());
}

/// Where the time goes, single-threaded: parsing alone, then storing already-parsed reports.
fn phases(paths: &[PathBuf], dir: &std::path::Path) {
    let pages: Vec<(String, Vec<u8>)> = paths
        .iter()
        .filter_map(|p| Some((p.to_string_lossy().into_owned(), std::fs::read(p).ok()?)))
        .collect();
    let t = cpu_secs("/proc/thread-self/stat");
    let parsed: Vec<_> = pages
        .iter()
        .map(|(url, bytes)| {
            gknb::report::parse(&gknb::report::Input {
                bytes,
                source: url,
                content_type: Some("text/html"),
            })
        })
        .collect();
    let parse_ms = (cpu_secs("/proc/thread-self/stat") - t) * 1e3 / pages.len() as f64;
    let mut archive = match Archive::open(dir.join("phases.sqlite")) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("phases: {e}");
            return;
        }
    };
    let hint = gknb::store::AgencyHint {
        name: None,
        region: "bench".into(),
        portal: None,
    };
    let t = cpu_secs("/proc/thread-self/stat");
    let prepared: Vec<_> = pages
        .iter()
        .zip(&parsed)
        .filter_map(|((_, bytes), p)| gknb::store::PreparedReport::new(bytes, p).ok())
        .collect();
    let prepare_ms = (cpu_secs("/proc/thread-self/stat") - t) * 1e3 / pages.len() as f64;
    let t = cpu_secs("/proc/thread-self/stat");
    let mut batch = match archive.batch(100, std::time::Duration::from_secs(2)) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("phases: {e}");
            return;
        }
    };
    for (((url, bytes), p), prep) in pages.iter().zip(&parsed).zip(&prepared) {
        let doc = gknb::store::NewDocument {
            url,
            final_url: None,
            fetched_at: None,
            http_status: None,
            headers: None,
            content_type: Some("text/html"),
            declared_encoding: None,
            detected_encoding: None,
            bytes,
            kind: gknb::store::DocumentKind::Report,
        };
        if let Err(e) = batch.store_prepared(&doc, prep, p, &hint) {
            eprintln!("store: {e}");
            return;
        }
    }
    if let Err(e) = batch.commit() {
        eprintln!("store: {e}");
        return;
    }
    let store_ms = (cpu_secs("/proc/thread-self/stat") - t) * 1e3 / pages.len() as f64;
    println!(
        "  CPU per report (1 thread, {} pages): parse {parse_ms:.1} ms, hash+compress \
         {prepare_ms:.1} ms (parser threads), write {store_ms:.1} ms (writer thread)",
        pages.len()
    );
}

/// User + system CPU seconds from a `/proc/.../stat` file (Linux; 0 elsewhere). Wall time on
/// a shared machine says little; CPU time says what a report costs.
fn cpu_secs(path: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(path) else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}
