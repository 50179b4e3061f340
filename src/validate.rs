//! Accounting identities (勾稽关系) over a report's facts, and soft warnings.
//!
//! Pure functions of the facts. Each identity instance ends `pass`, `fail` or `skipped`. Empty
//! cells count as 0 inside a sum, with two exceptions that make an instance `skipped` rather
//! than failed: its total cell is empty or `na` (never invent a total), or every addend is empty
//! or `na` (the agency filled only the total).

use std::sync::OnceLock;

use crate::metrics;
use crate::model::{CellState, Check, CheckStatus, Fact, Format, Warning};
use crate::report::tables::{T3_COLUMNS, T4_COLUMNS, T4_GROUPS};

/// Hard-check rule names.
pub const HARD_RULES: [&str; 4] = ["T3-A", "T3-B", "T3-C", "T4"];

/// Two sums closer than this are equal (counts are integers; this absorbs float noise only).
const TOLERANCE: f64 = 1e-6;

/// The table 三 layout a report's checks follow: format 2021's, or format 2019's single
/// （六）其他处理 row. A format-2021 report that prints （六）其他处理 as one row (the 2019 layout)
/// is summed with that row: the numbers are the agency's, only the split into three sub-rows is
/// missing.
fn t3_layout(format: Format, facts: &FactIndex) -> Format {
    const SINGLE: [&str; 2] = [
        "requests.other_handling.total",
        "requests.other_handling.natural_person",
    ];
    const SPLIT: [&str; 6] = [
        "requests.other_handling.no_correction.total",
        "requests.other_handling.no_correction.natural_person",
        "requests.other_handling.unpaid_fee.total",
        "requests.other_handling.unpaid_fee.natural_person",
        "requests.other_handling.other.total",
        "requests.other_handling.other.natural_person",
    ];
    if format != Format::F2021 {
        return Format::F2019;
    }
    let has = |keys: &[&str]| {
        keys.iter()
            .any(|k| facts.get(metrics::position(k), k).is_some())
    };
    if has(&SINGLE) && !has(&SPLIT) {
        Format::F2019
    } else {
        Format::F2021
    }
}

/// Table 三 result rows (the addends of T3-B) of a table 三 layout.
fn t3b_rows_of(layout: Format) -> Vec<&'static str> {
    let mut rows = vec![
        "granted",
        "partial",
        "denied.state_secret",
        "denied.prohibited_by_law",
        "denied.security_stability",
        "denied.third_party",
        "denied.internal_affairs",
        "denied.process_info",
        "denied.enforcement_file",
        "denied.admin_query",
        "unable.not_held",
        "unable.needs_creation",
        "unable.unclear",
        "not_processed.petition",
        "not_processed.repeat",
        "not_processed.publication",
        "not_processed.excessive",
        "not_processed.confirm_reissue",
    ];
    if layout == Format::F2021 {
        rows.extend([
            "other_handling.no_correction",
            "other_handling.unpaid_fee",
            "other_handling.other",
        ]);
    } else {
        rows.push("other_handling");
    }
    rows
}

/// Every table 三 row of a layout (the subjects of T3-C).
fn t3_rows_of(layout: Format) -> Vec<&'static str> {
    let mut rows = vec!["new_received", "carried_over"];
    rows.extend(t3b_rows_of(layout));
    rows.extend(["total_handled", "carried_forward"]);
    rows
}

/// One identity instance before it meets a report's facts.
struct Identity {
    rule: &'static str,
    subject: &'static str,
    /// The total's key, then the added keys, then the subtracted ones: exactly the `metrics`
    /// of the resulting [`Check`].
    keys: Vec<String>,
    /// Catalogue position of each key, resolved once so that a report's facts are found
    /// without hashing the keys again.
    positions: Vec<Option<usize>>,
    /// How many keys after the total are added (the rest are subtracted).
    plus: usize,
}

impl Identity {
    fn new(rule: &'static str, subject: &'static str, keys: Vec<String>, plus: usize) -> Self {
        let positions = keys.iter().map(|k| metrics::position(k)).collect();
        Identity {
            rule,
            subject,
            keys,
            positions,
            plus,
        }
    }
}

/// Every identity instance of a table 三 layout, in output order. Built once per layout (see
/// [`identities`]): the keys are the same for every report, so no report formats them.
fn build_identities(layout: Format) -> Vec<Identity> {
    let mut out = Vec::new();
    for col in T3_COLUMNS {
        // T3-A: 一 + 二 = （七）总计 + 四, read as （七）总计 = 一 + 二 − 四 so that the printed
        // total is the cell that must be present (a blank 四 counts as 0, like any addend).
        let keys = vec![
            format!("requests.total_handled.{col}"),
            format!("requests.new_received.{col}"),
            format!("requests.carried_over.{col}"),
            format!("requests.carried_forward.{col}"),
        ];
        out.push(Identity::new("T3-A", col, keys, 2));
    }
    let t3b_rows = t3b_rows_of(layout);
    for col in T3_COLUMNS {
        let keys: Vec<String> = std::iter::once(format!("requests.total_handled.{col}"))
            .chain(t3b_rows.iter().map(|r| format!("requests.{r}.{col}")))
            .collect();
        out.push(Identity::new("T3-B", col, keys, t3b_rows.len()));
    }
    for row in t3_rows_of(layout) {
        let keys: Vec<String> = std::iter::once(format!("requests.{row}.total"))
            .chain(
                T3_COLUMNS[..6]
                    .iter()
                    .map(|c| format!("requests.{row}.{c}")),
            )
            .collect();
        out.push(Identity::new("T3-C", row, keys, 6));
    }
    for group in T4_GROUPS {
        let keys: Vec<String> = std::iter::once(format!("appeals.{group}.total"))
            .chain(
                T4_COLUMNS[..4]
                    .iter()
                    .map(|c| format!("appeals.{group}.{c}")),
            )
            .collect();
        out.push(Identity::new("T4", group, keys, 4));
    }
    out
}

/// [`build_identities`] of a layout, built on first use.
fn identities(layout: Format) -> &'static [Identity] {
    static BY_LAYOUT: OnceLock<[Vec<Identity>; 2]> = OnceLock::new();
    let [f2019, f2021] = BY_LAYOUT.get_or_init(|| {
        [
            build_identities(Format::F2019),
            build_identities(Format::F2021),
        ]
    });
    if layout == Format::F2021 {
        f2021
    } else {
        f2019
    }
}

/// Runs every hard check for a report of `format` (2019 or 2021).
pub fn check(facts: &[Fact], format: Format) -> Vec<Check> {
    let index = FactIndex::new(facts);
    let layout = t3_layout(format, &index);
    let mut numbers = Vec::new();
    identities(layout)
        .iter()
        .map(|identity| balance(identity, &index, &mut numbers))
        .collect()
}

/// A report's facts by metric: by catalogue position for catalogue keys (every fact the parser
/// emits), by a scan for any other key. The last fact of a metric wins, as in a map built
/// from the facts in order.
struct FactIndex<'a> {
    facts: &'a [Fact],
    by_position: Vec<Option<&'a Fact>>,
}

impl<'a> FactIndex<'a> {
    fn new(facts: &'a [Fact]) -> Self {
        let mut by_position = vec![None; metrics::all().len()];
        for f in facts {
            if let Some(slot) = metrics::position(&f.metric).and_then(|i| by_position.get_mut(i)) {
                *slot = Some(f);
            }
        }
        FactIndex { facts, by_position }
    }

    /// The fact of `key`, whose catalogue position is `position`.
    fn get(&self, position: Option<usize>, key: &str) -> Option<&'a Fact> {
        match position {
            Some(i) => self.by_position.get(i).copied().flatten(),
            None => self.facts.iter().rev().find(|f| f.metric == key),
        }
    }
}

/// `total` must equal `Σ plus − Σ minus`; skipped when the total cell holds no number or no
/// addend does. Missing, empty and `na` addends count as 0 otherwise. `numbers` is scratch
/// space, reused so that each key is looked up once without allocating per instance.
fn balance(identity: &Identity, facts: &FactIndex, numbers: &mut Vec<Option<f64>>) -> Check {
    // A cell's number, or `None` when the cell is missing, empty, `na` or text.
    numbers.clear();
    numbers.extend(
        identity
            .positions
            .iter()
            .zip(&identity.keys)
            .map(|(&position, key)| facts.get(position, key).and_then(|f| f.value)),
    );
    let (actual, addends) = (numbers[0], &numbers[1..]);
    let (plus, minus) = addends.split_at(identity.plus);
    let any_addend = addends.iter().any(Option::is_some);
    let sum = |values: &[Option<f64>]| values.iter().filter_map(|v| *v).sum::<f64>();
    let expected = any_addend.then(|| sum(plus) - sum(minus));
    let status = match (actual, expected) {
        (Some(a), Some(e)) if (a - e).abs() < TOLERANCE => CheckStatus::Pass,
        (Some(_), Some(_)) => CheckStatus::Fail,
        _ => CheckStatus::Skipped,
    };
    Check {
        rule: identity.rule.to_string(),
        subject: identity.subject.to_string(),
        status,
        expected,
        actual,
        metrics: identity.keys.clone(),
    }
}

/// Soft findings that never invalidate a report: negative counts, template/year mismatch.
pub fn warnings(facts: &[Fact], format: Format, year: Option<i32>) -> Vec<Warning> {
    let mut out = Vec::new();
    for f in facts {
        let Some(v) = f.value else { continue };
        // The catalogue lookup only for the rare negative number.
        let negative = v < 0.0 && f.state == CellState::Number;
        if !negative {
            continue;
        }
        let signed = metrics::get(&f.metric).is_some_and(|m| m.unit == "signed_count");
        if !signed {
            out.push(Warning {
                rule: "negative_count".into(),
                message: format!("{} is negative ({})", f.metric, f.raw),
            });
        }
    }
    if let Some(year) = year {
        let mismatch = match format {
            Format::F2019 => year >= 2021,
            Format::F2021 => year <= 2020,
            _ => false,
        };
        if mismatch {
            out.push(Warning {
                rule: "template_year_mismatch".into(),
                message: format!(
                    "report year {year} but the tables follow the {} template",
                    format.as_str()
                ),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(metric: &str, raw: &str) -> Fact {
        let v = crate::report::normalize::read_cell(raw);
        Fact {
            metric: metric.into(),
            value: v.number.map(|d| d.to_f64()),
            state: v.state,
            raw: raw.into(),
            table: "三".into(),
            row: 0,
            col: 0,
            page: None,
        }
    }

    fn find<'a>(checks: &'a [Check], rule: &str, subject: &str) -> &'a Check {
        checks
            .iter()
            .find(|c| c.rule == rule && c.subject == subject)
            .expect("check instance exists")
    }

    #[test]
    fn t3a_pass_and_fail() {
        let facts = vec![
            f("requests.new_received.total", "10"),
            f("requests.carried_over.total", "2"),
            f("requests.total_handled.total", "11"),
            f("requests.carried_forward.total", "1"),
            f("requests.new_received.natural_person", "5"),
            f("requests.total_handled.natural_person", "4"),
            f("requests.carried_forward.natural_person", "0"),
        ];
        let checks = check(&facts, Format::F2019);
        assert_eq!(find(&checks, "T3-A", "total").status, CheckStatus::Pass);
        let np = find(&checks, "T3-A", "natural_person");
        assert_eq!(np.status, CheckStatus::Fail);
        assert_eq!((np.expected, np.actual), (Some(5.0), Some(4.0)));
        // 四 blank counts as 0; the printed total is what must be present.
        let facts = vec![
            f("requests.new_received.commercial", "35"),
            f("requests.carried_over.commercial", ""),
            f("requests.total_handled.commercial", "35"),
            f("requests.carried_forward.commercial", ""),
        ];
        let checks = check(&facts, Format::F2019);
        assert_eq!(
            find(&checks, "T3-A", "commercial").status,
            CheckStatus::Pass
        );
        assert_eq!(np.metrics[0], "requests.total_handled.natural_person");
    }

    #[test]
    fn blank_total_skips_and_blank_addends_skip() {
        let facts = vec![
            f("requests.granted.total", ""),
            f("requests.granted.natural_person", "3"),
            f("requests.partial.total", "4"),
            f("requests.partial.natural_person", "/"),
        ];
        let checks = check(&facts, Format::F2019);
        assert_eq!(
            find(&checks, "T3-C", "granted").status,
            CheckStatus::Skipped
        );
        assert_eq!(
            find(&checks, "T3-C", "partial").status,
            CheckStatus::Skipped
        );
    }

    #[test]
    fn counts_of_checks_per_format() {
        assert_eq!(check(&[], Format::F2019).len(), 7 + 7 + 23 + 3);
        assert_eq!(check(&[], Format::F2021).len(), 7 + 7 + 25 + 3);
    }

    #[test]
    fn negative_counts_warn_but_signed_changes_do_not() {
        let facts = vec![
            f("requests.granted.total", "-1"),
            f("active.licensing.change", "-18"),
        ];
        let w = warnings(&facts, Format::F2019, Some(2019));
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].rule, "negative_count");
    }

    #[test]
    fn template_year_mismatch() {
        let w = warnings(&[], Format::F2019, Some(2022));
        assert_eq!(w[0].rule, "template_year_mismatch");
    }
}

#[cfg(test)]
mod single_other_row {
    use super::*;

    #[test]
    fn format_2021_with_one_other_handling_row_sums_that_row() {
        let fact = |metric: &str, v: f64| Fact {
            metric: metric.into(),
            value: Some(v),
            state: CellState::Number,
            raw: v.to_string(),
            table: "三".into(),
            row: 0,
            col: 0,
            page: None,
        };
        let facts = vec![
            fact("requests.total_handled.total", 5.0),
            fact("requests.granted.total", 3.0),
            fact("requests.other_handling.total", 2.0),
        ];
        let checks = check(&facts, Format::F2021);
        let t3b = checks
            .iter()
            .find(|c| c.rule == "T3-B" && c.subject == "total")
            .expect("T3-B total");
        assert_eq!(t3b.status, CheckStatus::Pass);
        assert!(
            t3b.metrics
                .contains(&"requests.other_handling.total".to_string())
        );
    }
}
