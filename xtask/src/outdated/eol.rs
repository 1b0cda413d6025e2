//! End-of-life dates of runtimes and base images: a table shipped with the tool, refreshed
//! from endoflife.date's API for the products in use when it is reachable.

use std::collections::BTreeSet;
use std::fmt;

use anyhow::Result;
use chrono::NaiveDate;

use super::image::{ImageUse, parse_image};
use super::{Outdated, Scope, Tree, segment};

/// End-of-life dates of runtime release cycles (from endoflife.date, shipped with the tool).
pub const EOL: &[(&str, &str, &str)] = &[
    ("python", "2.7", "2020-01-01"),
    ("python", "3.6", "2021-12-23"),
    ("python", "3.7", "2023-06-27"),
    ("python", "3.8", "2024-10-07"),
    ("python", "3.9", "2025-10-31"),
    ("python", "3.10", "2026-10-31"),
    ("python", "3.11", "2027-10-31"),
    ("python", "3.12", "2028-10-31"),
    ("python", "3.13", "2029-10-31"),
    ("node", "14", "2023-04-30"),
    ("node", "16", "2023-09-11"),
    ("node", "18", "2025-04-30"),
    ("node", "20", "2026-04-30"),
    ("node", "22", "2027-04-30"),
    ("postgres", "11", "2023-11-09"),
    ("postgres", "12", "2024-11-21"),
    ("postgres", "13", "2025-11-13"),
    ("postgres", "14", "2026-11-12"),
    ("postgres", "15", "2027-11-11"),
    ("postgres", "16", "2028-11-09"),
    ("debian", "10", "2024-06-30"),
    ("debian", "buster", "2024-06-30"),
    ("debian", "11", "2026-08-31"),
    ("debian", "bullseye", "2026-08-31"),
    ("debian", "12", "2028-06-30"),
    ("debian", "bookworm", "2028-06-30"),
    ("alpine", "3.16", "2024-05-23"),
    ("alpine", "3.17", "2024-11-22"),
    ("alpine", "3.18", "2025-05-09"),
    ("alpine", "3.19", "2025-11-01"),
    ("alpine", "3.20", "2026-04-01"),
    ("alpine", "3.21", "2026-11-01"),
    ("ubuntu", "18.04", "2023-05-31"),
    ("ubuntu", "20.04", "2025-05-31"),
    ("ubuntu", "22.04", "2027-06-01"),
    ("ubuntu", "24.04", "2029-06-01"),
];

/// The end-of-life date of `product` at version/tag `tag`, from the shipped table.
#[cfg(test)]
pub fn eol(product: &str, tag: &str) -> Option<(String, NaiveDate)> {
    EolTable::shipped().lookup(product, tag)
}

/// End-of-life dates: the shipped table, refreshed from endoflife.date when reachable.
pub struct EolTable(Vec<(String, String, NaiveDate)>);

impl EolTable {
    pub fn shipped() -> EolTable {
        EolTable(
            EOL.iter()
                .map(|(p, c, d)| {
                    (
                        p.to_string(),
                        c.to_string(),
                        NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap(),
                    )
                })
                .collect(),
        )
    }

    /// Add what endoflife.date's API says (`[{"cycle", "eol", "codename"}]`); its answers win.
    pub fn refresh(&mut self, product: &str, body: &[u8]) -> bool {
        let Ok(serde_json::Value::Array(cycles)) = serde_json::from_slice(body) else {
            return false;
        };
        let mut added = false;
        for c in cycles {
            let Some(cycle) = c["cycle"]
                .as_str()
                .map(str::to_string)
                .or_else(|| c["cycle"].as_f64().map(|f| f.to_string()))
            else {
                continue;
            };
            let Some(date) = c["eol"]
                .as_str()
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            else {
                continue;
            };
            let mut names = vec![cycle];
            if let Some(code) = c["codename"].as_str() {
                names.push(code.to_ascii_lowercase());
            }
            for n in names {
                self.0.retain(|(p, cy, _)| !(p == product && *cy == n));
                self.0.push((product.to_string(), n, date));
                added = true;
            }
        }
        added
    }

    pub fn lookup(&self, product: &str, tag: &str) -> Option<(String, NaiveDate)> {
        let head = tag.split(['-', '_']).next().unwrap_or(tag);
        let mut best: Option<&(String, String, NaiveDate)> = None;
        for e in self.0.iter().filter(|(p, _, _)| p == product) {
            // "3.11.4" is in cycle "3.11"; "13.4" in "13"; "bullseye-slim" in "bullseye".
            let cycle = &e.1;
            let hit = head == cycle || head.starts_with(&format!("{cycle}."));
            if hit && best.is_none_or(|b| cycle.len() > b.1.len()) {
                best = Some(e);
            }
        }
        best.map(|(_, c, d)| (c.clone(), *d))
    }
}

/// Which end-of-life data a run used: of the products in use, how many endoflife.date
/// refreshed.
#[derive(Debug, Clone, Copy)]
pub struct Refreshed {
    pub refreshed: usize,
    pub products: usize,
}

impl fmt::Display for Refreshed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.refreshed == self.products {
            f.write_str("endoflife.date")
        } else {
            write!(
                f,
                "table shipped with the tool ({} of {} products refreshed from endoflife.date)",
                self.refreshed, self.products
            )
        }
    }
}

/// The end-of-life table for this tree: the shipped one, refreshed from endoflife.date for
/// the products in use (none in use: no request).
pub(super) fn table(
    scope: &Scope,
    images: &[ImageUse],
    tree: &Tree,
    out: &mut Outdated,
) -> Result<EolTable> {
    let mut eols = EolTable::shipped();
    let mut products: BTreeSet<String> = images
        .iter()
        .filter_map(|i| i.resolved.as_deref())
        .map(|image| {
            parse_image(image)
                .image
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .filter(|b| EOL.iter().any(|(p, _, _)| p == b))
        .collect();
    if tree
        .workflows
        .iter()
        .any(|(_, text)| text.contains("python-version"))
    {
        products.insert("python".into());
    }
    let eol_api =
        std::env::var("XTASK_EOL_API").unwrap_or_else(|_| "https://endoflife.date/api".into());
    let eol_urls: Vec<String> = products
        .iter()
        .map(|p| format!("{eol_api}/{}.json", segment(p)))
        .collect();
    let mut refreshed = 0;
    for (p, a) in products
        .iter()
        .zip(scope.enrich_client().fetch_all(&eol_urls)?)
    {
        if a.body.as_deref().is_some_and(|b| eols.refresh(p, b)) {
            refreshed += 1;
        }
    }
    if !products.is_empty() {
        out.eol = Some(Refreshed {
            refreshed,
            products: products.len(),
        });
    }
    Ok(eols)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycles_of_tags() {
        assert_eq!(eol("python", "3.11-slim").unwrap().0, "3.11");
        assert_eq!(
            eol("python", "3.1").map(|e| e.0),
            None,
            "3.1 is not 3.10 or 3.11"
        );
        assert_eq!(eol("node", "18-alpine").unwrap().0, "18");
        assert_eq!(eol("postgres", "13.4").unwrap().0, "13");
        assert_eq!(eol("debian", "bullseye-slim").unwrap().0, "bullseye");
    }
}
