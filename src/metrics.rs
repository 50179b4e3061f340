//! The metric catalogue: `data/metrics.tsv`, embedded in the binary.
//!
//! The keys are the public vocabulary of the archive, the CLI and every export; the parser may
//! only emit keys that appear here (a unit test holds it to that).

use std::collections::HashMap;
use std::sync::OnceLock;

/// The catalogue exactly as shipped.
pub const METRICS_TSV: &str = include_str!("../data/metrics.tsv");

/// One row of `metrics.tsv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metric {
    /// Canonical key, e.g. `requests.granted.total`.
    pub key: &'static str,
    /// Whether the metric exists in format 2019.
    pub in_2019: bool,
    /// Whether the metric exists in format 2021.
    pub in_2021: bool,
    /// `二`, `三` or `四`.
    pub table: &'static str,
    /// Chinese row label path (`三、本年度办理结果/（一）予以公开`).
    pub row_zh: &'static str,
    /// Chinese column label path (`法人或其他组织/商业企业`).
    pub column_zh: &'static str,
    /// `count`, `signed_count`, `yuan` or `wan_yuan`.
    pub unit: &'static str,
    /// English label.
    pub label_en: &'static str,
}

/// All metrics, in catalogue order.
pub fn all() -> &'static [Metric] {
    static CATALOGUE: OnceLock<Vec<Metric>> = OnceLock::new();
    CATALOGUE.get_or_init(|| parse_catalogue(METRICS_TSV))
}

/// Looks a metric up by key.
pub fn get(key: &str) -> Option<&'static Metric> {
    position(key).map(|i| &all()[i])
}

/// Position of a key in the catalogue: a stable sort order for output.
pub fn ordinal(key: &str) -> usize {
    position(key).unwrap_or(usize::MAX)
}

/// Position of the first metric with `key`, through an index built once: the parser looks up
/// every value cell and sorts every report's facts by it, and a scan of the catalogue per
/// lookup was a visible share of parsing.
pub fn position(key: &str) -> Option<usize> {
    static INDEX: OnceLock<HashMap<&'static str, usize>> = OnceLock::new();
    INDEX
        .get_or_init(|| {
            let mut index = HashMap::new();
            for (i, m) in all().iter().enumerate() {
                // The first metric with a key wins, as a scan would find it.
                index.entry(m.key).or_insert(i);
            }
            index
        })
        .get(key)
        .copied()
}

/// Metrics of one template format (`2019` or `2021`), in catalogue order.
pub fn for_format(format: crate::model::Format) -> impl Iterator<Item = &'static Metric> {
    all().iter().filter(move |m| match format {
        crate::model::Format::F2019 => m.in_2019,
        crate::model::Format::F2021 => m.in_2021,
        _ => false,
    })
}

fn parse_catalogue(tsv: &'static str) -> Vec<Metric> {
    tsv.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .filter_map(|line| {
            let f: Vec<&'static str> = line.split('\t').collect();
            if f.len() < 7 {
                return None;
            }
            Some(Metric {
                key: f[0],
                in_2019: f[1].split(',').any(|t| t == "2019"),
                in_2021: f[1].split(',').any(|t| t == "2021"),
                table: f[2],
                row_zh: f[3],
                column_zh: f[4],
                unit: f[5],
                label_en: f[6],
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Format;

    #[test]
    fn catalogue_has_198_and_200_metrics() {
        assert_eq!(for_format(Format::F2019).count(), 198);
        assert_eq!(for_format(Format::F2021).count(), 200);
    }

    #[test]
    fn keys_are_unique() {
        let mut keys: Vec<_> = all().iter().map(|m| m.key).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), all().len());
    }
}
