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
