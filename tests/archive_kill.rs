//! Durability: a `gknb import` killed with SIGKILL mid-way leaves a file that passes
//! `PRAGMA integrity_check` and holds no half-written report; running the import again
//! completes the archive without duplicating anything.

#![cfg(unix)]

mod archive_support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use archive_support::{format_for, gknb_ok, write_page};
use gknb::store::Archive;
use gknb::synth::{self, HtmlStyle};

const FILES: usize = 150;

fn reports(db: &std::path::Path) -> i64 {
    // The file may not exist yet or be mid-creation; that counts as zero.
    Archive::open_read_only(db)
        .ok()
        .and_then(|a| {
            a.conn()
                .query_row("SELECT count(*) FROM reports", [], |r| r.get(0))
                .ok()
        })
        .unwrap_or(0)
}

#[test]
fn killed_import_leaves_a_consistent_archive_and_resumes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let pages = tmp.path().join("pages");
    std::fs::create_dir(&pages).expect("mkdir");
    for i in 0..FILES {
        let year = 2019 + (i % 5) as i32;
        let agency = format!("测试县第{}局", i / 5);
        let r = synth::consistent(format_for(year), year, &agency, i as u64);
        write_page(
            &pages,
            &format!("p{i:04}.html"),
            &r,
            &HtmlStyle::varied(i as u64),
        );
    }
    let db = tmp.path().join("k.sqlite");
    let db_s = db.to_string_lossy().into_owned();
    let pages_s = pages.to_string_lossy().into_owned();

    // Agency names come from each page; one parser thread keeps the import slow enough to
    // be caught in the middle.
    let mut child = Command::new(env!("CARGO_BIN_EXE_gknb"))
        .args([
            "import", &pages_s, "--region", "999999", "--db", &db_s, "-j", "1", "-q",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn gknb import");
    let deadline = Instant::now() + Duration::from_secs(120);
    while reports(&db) < 10 {
        assert!(Instant::now() < deadline, "import made no progress");
        assert!(
            child.try_wait().expect("try_wait").is_none(),
            "import finished before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().expect("SIGKILL"); // std sends SIGKILL on Unix
    child.wait().expect("reap");

    let partial = reports(&db);
    assert!(
        partial >= 10 && (partial as usize) < FILES,
        "killed mid-way: {partial}"
    );
    {
        // Opening for writing also proves the lock died with the process.
        let a = Archive::open(&db).expect("the lock is released by the kernel");
        assert_eq!(a.integrity_check().expect("integrity"), vec!["ok"]);
        assert!(a.incomplete_reports().expect("check").is_empty());
        let orphans: i64 = a
            .conn()
            .query_row(
                "SELECT count(*) FROM documents d WHERE kind = 'report' AND NOT EXISTS \
                 (SELECT 1 FROM reports r WHERE r.document_id = d.id)",
                [],
                |r| r.get(0),
            )
            .expect("orphans");
        assert_eq!(orphans, 0, "document and report are written together");
        let ok_without_checks: i64 = a
            .conn()
            .query_row(
                "SELECT count(*) FROM reports r WHERE status IN ('ok', 'invalid') AND NOT EXISTS \
                 (SELECT 1 FROM checks c WHERE c.report_id = r.id)",
                [],
                |r| r.get(0),
            )
            .expect("checks");
        assert_eq!(ok_without_checks, 0);
    }

    gknb_ok(
        tmp.path(),
        &[
            "import", &pages_s, "--region", "999999", "--db", &db_s, "-q",
        ],
    );
    let a = Archive::open_read_only(&db).expect("open");
    let count = |sql: &str| -> i64 { a.conn().query_row(sql, [], |r| r.get(0)).expect(sql) };
    assert_eq!(count("SELECT count(*) FROM reports") as usize, FILES);
    assert_eq!(count("SELECT count(*) FROM documents") as usize, FILES);
    assert_eq!(
        count("SELECT count(DISTINCT url) FROM reports") as usize,
        FILES
    );
    assert_eq!(
        count("SELECT count(*) FROM reports WHERE status = 'ok'") as usize,
        FILES
    );
    assert_eq!(
        count("SELECT count(*) FROM facts"),
        count("SELECT sum(fact_count) FROM reports WHERE is_primary = 1")
    );
    assert!(a.incomplete_reports().expect("check").is_empty());
    assert_eq!(a.integrity_check().expect("integrity"), vec!["ok"]);
}
