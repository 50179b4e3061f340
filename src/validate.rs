//! Accounting identities (勾稽关系) over a report's facts, and soft warnings.
//!
//! Pure functions of the facts. Each identity instance ends `pass`, `fail` or `skipped`. Empty
//! cells count as 0 inside a sum, with two exceptions that make an instance `skipped` rather
//! than failed: its total cell is empty or `na` (never invent a total), or every addend is empty
//! or `na` (the agency filled only the total).

use std::collections::HashMap;

use crate::model::{CellState, Check, CheckStatus, Fact, Format, Warning};
use crate::report::tables::{T3_COLUMNS, T4_COLUMNS, T4_GROUPS};

/// Hard-check rule names.
pub const HARD_RULES: [&str; 4] = ["T3-A", "T3-B", "T3-C", "T4"];

/// Two sums closer than this are equal (counts are integers; this absorbs float noise only).
const TOLERANCE: f64 = 1e-6;

/// Table 三 result rows (the addends of T3-B), per format.
fn t3b_rows(format: Format) -> Vec<&'static str> {
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
    if format == Format::F2021 {
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

/// Every table 三 row, per format (the subjects of T3-C).
fn t3_rows(format: Format) -> Vec<&'static str> {
    let mut rows = vec!["new_received", "carried_over"];
    rows.extend(t3b_rows(format));
    rows.extend(["total_handled", "carried_forward"]);
    rows
}

/// Runs every hard check for a report of `format` (2019 or 2021).
pub fn check(facts: &[Fact], format: Format) -> Vec<Check> {
    let by_key: HashMap<&str, &Fact> = facts.iter().map(|f| (f.metric.as_str(), f)).collect();
    let ctx = Ctx { by_key };
    let mut checks = Vec::new();
    for col in T3_COLUMNS {
        // T3-A: 一 + 二 = （七）总计 + 四, read as （七）总计 = 一 + 二 − 四 so that the printed
        // total is the cell that must be present (a blank 四 counts as 0, like any addend).
        let total = format!("requests.total_handled.{col}");
        let plus = [
            format!("requests.new_received.{col}"),
            format!("requests.carried_over.{col}"),
        ];
        let minus = [format!("requests.carried_forward.{col}")];
        checks.push(ctx.balance("T3-A", col, &total, &plus, &minus));
    }
    for col in T3_COLUMNS {
        let total = format!("requests.total_handled.{col}");
        let addends: Vec<String> = t3b_rows(format)
            .iter()
            .map(|r| format!("requests.{r}.{col}"))
            .collect();
        checks.push(ctx.balance("T3-B", col, &total, &addends, &[]));
    }
    for row in t3_rows(format) {
        let total = format!("requests.{row}.total");
        let addends: Vec<String> = T3_COLUMNS[..6]
            .iter()
            .map(|c| format!("requests.{row}.{c}"))
            .collect();
        checks.push(ctx.balance("T3-C", row, &total, &addends, &[]));
    }
    for group in T4_GROUPS {
        let total = format!("appeals.{group}.total");
        let addends: Vec<String> = T4_COLUMNS[..4]
            .iter()
            .map(|c| format!("appeals.{group}.{c}"))
            .collect();
        checks.push(ctx.balance("T4", group, &total, &addends, &[]));
    }
    checks
}

struct Ctx<'a> {
    by_key: HashMap<&'a str, &'a Fact>,
}

impl Ctx<'_> {
    /// A cell's number, or `None` when the cell is missing, empty, `na` or text.
    fn number(&self, key: &str) -> Option<f64> {
        self.by_key.get(key).and_then(|f| f.value)
    }

    /// `total` must equal `Σ plus − Σ minus`; skipped when the total cell holds no number or
    /// no addend does. Missing, empty and `na` addends count as 0 otherwise.
    fn balance(
        &self,
        rule: &str,
        subject: &str,
        total: &str,
        plus: &[String],
        minus: &[String],
    ) -> Check {
        let metrics: Vec<String> = std::iter::once(total.to_string())
            .chain(plus.iter().cloned())
            .chain(minus.iter().cloned())
            .collect();
        let actual = self.number(total);
        let any_addend = plus.iter().chain(minus).any(|k| self.number(k).is_some());
        let sum = |keys: &[String]| keys.iter().filter_map(|k| self.number(k)).sum::<f64>();
        let expected = any_addend.then(|| sum(plus) - sum(minus));
        let status = match (actual, expected) {
            (Some(a), Some(e)) if (a - e).abs() < TOLERANCE => CheckStatus::Pass,
            (Some(_), Some(_)) => CheckStatus::Fail,
            _ => CheckStatus::Skipped,
        };
        Check {
            rule: rule.to_string(),
            subject: subject.to_string(),
            status,
            expected,
            actual,
            metrics,
        }
    }
}

/// Soft findings that never invalidate a report: negative counts, template/year mismatch.
pub fn warnings(facts: &[Fact], format: Format, year: Option<i32>) -> Vec<Warning> {
    let mut out = Vec::new();
    for f in facts {
        let Some(v) = f.value else { continue };
        let signed = crate::metrics::get(&f.metric).is_some_and(|m| m.unit == "signed_count");
        if v < 0.0 && !signed && f.state == CellState::Number {
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
