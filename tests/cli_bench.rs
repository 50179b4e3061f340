//! `gknb bench` end to end: the real binary starts its simulator child, crawls it, and prints
//! its figures as JSON.

use std::process::Command;

#[test]
fn bench_crawls_the_simulator_and_reports_its_figures() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gknb"))
        .current_dir(dir.path())
        .args([
            "-q",
            "bench",
            "--hosts",
            "2",
            "--reports",
            "3",
            "--rate",
            "50",
        ])
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let f: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(f["hosts"], 2);
    assert_eq!(f["reports"], 6, "{f}");
    assert_eq!(f["failures"], 0);
    assert!(f["requests"].as_u64().unwrap() > f["reports"].as_u64().unwrap());
    assert!(f["peak_rss_mb"].as_f64().unwrap() > 0.0);
    if cfg!(target_os = "linux") {
        let busy = f["machine"]["mean_busy"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&busy), "{busy}");
    }
}

/// SIGTERM (or Ctrl-C) mid-run: the bench stops its simulator, removes its scratch archive and
/// exits 130.
#[cfg(unix)]
#[test]
fn an_interrupted_bench_leaves_no_scratch_files() {
    use std::os::unix::process::ExitStatusExt as _;
    use std::time::{Duration, Instant};

    let tmp = tempfile::tempdir().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_gknb"))
        .current_dir(tmp.path())
        .env("TMPDIR", tmp.path())
        .args([
            "-q",
            "bench",
            "--hosts",
            "4",
            "--reports",
            "200",
            "--rate",
            "5",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let scratch = tmp.path().join(format!("gknb-bench-{}", child.id()));
    // Wait until the crawl writes its archive.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !scratch.join("bench.sqlite").exists() {
        assert!(Instant::now() < deadline, "the bench never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{:?} {}",
        out.status.signal(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!scratch.exists(), "scratch directory left behind");
}
