//! Cross-year checks over an agency's primary reports (warnings, never failures):
//!
//! - `carryover_continuity`, per column c of table 三: this year's 二、上年结转[c] equals the
//!   previous year's 四、结转下年度继续办理[c].
//! - `in_force_continuity`, format 2021 only, for 规章 and 行政规范性文件: this year's 现行有效件数
//!   equals last year's + 本年制发件数 − 本年废止件数 (agencies' clean-ups break it often).
//!
//! Both compare consecutive years only, and only reports whose tables were read (status `ok`
//! or `invalid`). A check is `skipped` when a cell it needs holds no number. The instances are
//! attached to the later year's primary report and recomputed, whenever one of the agency's
//! reports changes, for the two year pairs that report's year belongs to.

use std::collections::HashMap;

use rusqlite::Connection;

use super::Result;
use super::write::{MetricIds, MetricKeys, insert_checks};
use crate::model::{CellState, Check, CheckStatus};

/// Rule names written by this module.
pub const RULES: [&str; 2] = ["carryover_continuity", "in_force_continuity"];

const COLUMNS: [&str; 7] = [
    "natural_person",
    "commercial",
    "research",
    "social_org",
    "legal_service",
    "other_org",
    "total",
];

const IN_FORCE_GROUPS: [&str; 2] = ["rules", "normative"];

/// One primary report of the agency.
struct YearReport {
    id: i64,
    format: String,
}

/// Cells of one year: metric → (value, state).
type Cells = HashMap<String, (Option<f64>, CellState)>;

/// Recomputes the cross-year checks of one agency that a change to the `touched` years can
/// alter. A year's report carries the checks comparing it with the year before, so a change to
/// year Y (a new report, another primary, a report leaving the year) alters the checks of Y and
/// of Y + 1, and nothing else: refreshing only those keeps the cost of a report independent of
/// how many years the agency has published.
pub(super) fn refresh(
    tx: &Connection,
    agency_id: i64,
    touched: &[i32],
    metric_ids: &mut MetricIds,
    fact_keys: &MetricKeys,
) -> Result<()> {
    let mut years: Vec<i32> = touched.iter().flat_map(|&y| [y, y + 1]).collect();
    years.sort_unstable();
    years.dedup();
    let (Some(&first), Some(&last)) = (years.first(), years.last()) else {
        return Ok(());
    };
    let mut delete = tx.prepare_cached(
        "DELETE FROM checks WHERE rule IN ('carryover_continuity', 'in_force_continuity') \
         AND report_id IN (SELECT id FROM reports WHERE agency_id = ?1 AND year = ?2)",
    )?;
    for &y in &years {
        delete.execute(rusqlite::params![agency_id, y])?;
    }
    let primaries = primary_years(tx, agency_id, first - 1, last)?;
    let cells = cells_by_year(tx, agency_id, first - 1, last, fact_keys)?;
    let empty = Cells::new();
    for &y in &years {
        let (Some(prev), Some(cur)) = (primaries.get(&(y - 1)), primaries.get(&y)) else {
            continue;
        };
        let prev_cells = cells.get(&(y - 1)).unwrap_or(&empty);
        let cur_cells = cells.get(&y).unwrap_or(&empty);
        let mut checks = carryover(prev_cells, cur_cells);
        if prev.format == "2021" && cur.format == "2021" {
            checks.extend(in_force(prev_cells, cur_cells));
        }
        insert_checks(tx, cur.id, &checks, metric_ids)?;
    }
    Ok(())
}

/// The agency's primary reports from `first` to `last` whose tables were read, by year.
fn primary_years(
    tx: &Connection,
    agency_id: i64,
    first: i32,
    last: i32,
) -> Result<HashMap<i32, YearReport>> {
    let mut stmt = tx.prepare_cached(
        "SELECT id, year, format FROM reports WHERE agency_id = ?1 AND year BETWEEN ?2 AND ?3 \
         AND is_primary = 1 AND status IN ('ok', 'invalid')",
    )?;
    let rows = stmt.query_map(rusqlite::params![agency_id, first, last], |r| {
        Ok((
            r.get::<_, i32>(1)?,
            YearReport {
                id: r.get(0)?,
                format: r.get(2)?,
            },
        ))
    })?;
    Ok(rows.collect::<Result<HashMap<_, _>, _>>()?)
}

/// Every metric a cross-year check reads.
fn wanted_metrics() -> impl Iterator<Item = String> {
    let requests = COLUMNS.iter().flat_map(|c| {
        [
            format!("requests.carried_over.{c}"),
            format!("requests.carried_forward.{c}"),
        ]
    });
    let in_force = IN_FORCE_GROUPS
        .iter()
        .flat_map(|g| ["in_force", "issued", "repealed"].map(|what| format!("active.{g}.{what}")));
    requests.chain(in_force)
}

/// The cells the checks read, by year. Looked up by metric id in `fact_cells`' primary key
/// (agency, year, metric): matching the keys' text through the `facts` view read and compared
/// every fact of the agency's years, a tenth of the time a crawl spent writing a report.
/// `fact_keys` holds the id of every metric key that has facts.
fn cells_by_year(
    tx: &Connection,
    agency_id: i64,
    first: i32,
    last: i32,
    fact_keys: &MetricKeys,
) -> Result<HashMap<i32, Cells>> {
    let mut keys: HashMap<i64, String> = HashMap::new();
    for key in wanted_metrics() {
        if let Some(&id) = fact_keys.get(&key) {
            keys.insert(id, key);
        }
    }
    let mut out: HashMap<i32, Cells> = HashMap::new();
    if keys.is_empty() {
        return Ok(out);
    }
    let mut ids: Vec<i64> = keys.keys().copied().collect();
    ids.sort_unstable();
    let list = ids
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    // The ids are integers from `metric_keys`, so writing them into the statement is safe; the
    // text is the same for every call on one archive, so the prepared statement is reused.
    let mut stmt = tx.prepare_cached(&format!(
        "SELECT year, metric_id, value, state FROM fact_cells WHERE agency_id = ?1 \
         AND year BETWEEN ?2 AND ?3 AND metric_id IN ({list})"
    ))?;
    let mut rows = stmt.query(rusqlite::params![agency_id, first, last])?;
    while let Some(r) = rows.next()? {
        let year: i32 = r.get(0)?;
        let Some(metric) = keys.get(&r.get::<_, i64>(1)?) else {
            continue;
        };
        let value: Option<f64> = r.get(2)?;
        let state: String = r.get(3)?;
        let state = CellState::parse(&state).unwrap_or(CellState::Text);
        out.entry(year)
            .or_default()
            .insert(metric.clone(), (value, state));
    }
    Ok(out)
}

fn number(cells: &Cells, metric: &str) -> Option<f64> {
    match cells.get(metric) {
        Some((Some(v), CellState::Number)) => Some(*v),
        _ => None,
    }
}

fn carryover(prev: &Cells, cur: &Cells) -> Vec<Check> {
    COLUMNS
        .iter()
        .map(|c| {
            let forward = format!("requests.carried_forward.{c}");
            let over = format!("requests.carried_over.{c}");
            let expected = number(prev, &forward);
            let actual = number(cur, &over);
            Check {
                rule: RULES[0].into(),
                subject: (*c).into(),
                status: compare(expected, actual),
                expected,
                actual,
                metrics: vec![over, forward],
            }
        })
        .collect()
}

fn in_force(prev: &Cells, cur: &Cells) -> Vec<Check> {
    IN_FORCE_GROUPS
        .iter()
        .map(|g| {
            let now = format!("active.{g}.in_force");
            let issued = format!("active.{g}.issued");
            let repealed = format!("active.{g}.repealed");
            let actual = number(cur, &now);
            // Empty 制发/废止 cells count as 0, as inside any sum; the previous stock must be
            // a number or there is nothing to continue from.
            let expected = number(prev, &now).map(|base| {
                base + number(cur, &issued).unwrap_or(0.0) - number(cur, &repealed).unwrap_or(0.0)
            });
            Check {
                rule: RULES[1].into(),
                subject: (*g).into(),
                status: compare(expected, actual),
                expected,
                actual,
                metrics: vec![now, issued, repealed],
            }
        })
        .collect()
}

fn compare(expected: Option<f64>, actual: Option<f64>) -> CheckStatus {
    match (expected, actual) {
        (Some(e), Some(a)) if (e - a).abs() < 1e-9 => CheckStatus::Pass,
        (Some(_), Some(_)) => CheckStatus::Fail,
        _ => CheckStatus::Skipped,
    }
}
