//! Shared helpers of the archive integration tests: synthetic report files and the binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use gknb::model::Format;
use gknb::synth::{self, HtmlStyle, SynthReport};

/// The template format of a report year.
pub fn format_for(year: i32) -> Format {
    if year >= 2021 {
        Format::F2021
    } else {
        Format::F2019
    }
}

/// Writes one report page and returns its path.
pub fn write_page(dir: &Path, name: &str, r: &SynthReport, style: &HtmlStyle) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, synth::render_html(r, style)).expect("write fixture");
    path
}

/// Shifts carried-over and carried-forward requests of the natural-person column by `d`:
/// the report stays internally consistent (T3-A/B/C hold) but no longer continues the
/// previous year's carry-forward.
pub fn shift_carryover(r: &mut SynthReport, d: f64) {
    for key in [
        "requests.carried_over.natural_person",
        "requests.carried_over.total",
        "requests.carried_forward.natural_person",
        "requests.carried_forward.total",
    ] {
        let v = r.expected_value(key).expect("numeric cell") + d;
        assert!(r.set(key, &format!("{v}")), "{key}");
    }
}

/// Makes `next` take over exactly what `prev` carried forward, in every column. `next` stays
/// consistent: a rise of 二、上年结转 is matched in 四、结转下年度, a fall in 一、本年新收.
pub fn continue_from(prev: &SynthReport, next: &mut SynthReport) {
    let num = |r: &SynthReport, k: &str| r.expected_value(k).expect(k);
    let (mut up, mut down) = (0.0, 0.0);
    for col in [
        "natural_person",
        "commercial",
        "research",
        "social_org",
        "legal_service",
        "other_org",
    ] {
        let want = num(prev, &format!("requests.carried_forward.{col}"));
        let over = format!("requests.carried_over.{col}");
        let d = want - num(next, &over);
        set(next, &over, want);
        if d >= 0.0 {
            let k = format!("requests.carried_forward.{col}");
            set(next, &k, num(next, &k) + d);
            up += d;
        } else {
            let k = format!("requests.new_received.{col}");
            set(next, &k, num(next, &k) - d);
            down -= d;
        }
    }
    set(
        next,
        "requests.carried_over.total",
        num(prev, "requests.carried_forward.total"),
    );
    let k = "requests.carried_forward.total";
    set(next, k, num(next, k) + up);
    let k = "requests.new_received.total";
    set(next, k, num(next, k) + down);
}

fn set(r: &mut SynthReport, key: &str, v: f64) {
    assert!(r.set(key, &format!("{v}")), "{key}");
}

/// Runs the gknb binary with the arguments; never reads the user's config.toml.
pub fn gknb(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gknb"))
        .current_dir(cwd)
        .args(args)
        .output()
        .expect("run gknb")
}

/// Like [`gknb`], asserting success; returns stdout.
pub fn gknb_ok(cwd: &Path, args: &[&str]) -> String {
    let out = gknb(cwd, args);
    assert!(
        out.status.success(),
        "gknb {args:?} failed ({:?}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}
