//! What `verify` compares, and the comparison itself: pure, no PostgreSQL.
//!
//! A fingerprint is a set of sections (tables, partitions, extensions, …), each a map from
//! an object's name to its fields (rows, checksum, bound, version, …), every value as text.
//! Two fingerprints differ where an object is on one side only or a field's text differs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One object's fields, by name.
pub type Fields = BTreeMap<String, String>;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// Section → object → fields.
    pub sections: BTreeMap<String, BTreeMap<String, Fields>>,
}

impl Fingerprint {
    pub fn insert(&mut self, section: &str, object: &str, fields: Fields) {
        self.sections
            .entry(section.to_string())
            .or_default()
            .insert(object.to_string(), fields);
    }

    /// Objects in `section`.
    pub fn count(&self, section: &str) -> usize {
        self.sections.get(section).map_or(0, BTreeMap::len)
    }
}

/// One difference, in words a DBA reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    OnlyHere {
        section: String,
        object: String,
    },
    OnlyThere {
        section: String,
        object: String,
    },
    Field {
        section: String,
        object: String,
        field: String,
        here: Option<String>,
        there: Option<String>,
    },
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
        match self {
            Difference::OnlyHere { section, object } => {
                write!(f, "{section} {object}: only in this database")
            }
            Difference::OnlyThere { section, object } => {
                write!(f, "{section} {object}: only in the other database")
            }
            Difference::Field {
                section,
                object,
                field,
                here,
                there,
            } => write!(
                f,
                "{section} {object}: {field} is {} here, {} there",
                shown(here),
                shown(there)
            ),
        }
    }
}

/// Every difference between `here` and `there`, in section and object order. A section
/// missing on one side counts as empty.
pub fn diff(here: &Fingerprint, there: &Fingerprint) -> Vec<Difference> {
    let empty = BTreeMap::new();
    let mut names: Vec<&String> = here.sections.keys().chain(there.sections.keys()).collect();
    names.sort();
    names.dedup();
    let mut out = Vec::new();
    for section in names {
        let a = here.sections.get(section).unwrap_or(&empty);
        let b = there.sections.get(section).unwrap_or(&empty);
        let mut objects: Vec<&String> = a.keys().chain(b.keys()).collect();
        objects.sort();
        objects.dedup();
        for object in objects {
            match (a.get(object), b.get(object)) {
                (Some(_), None) => out.push(Difference::OnlyHere {
                    section: section.clone(),
                    object: object.clone(),
                }),
                (None, Some(_)) => out.push(Difference::OnlyThere {
                    section: section.clone(),
                    object: object.clone(),
                }),
                (Some(x), Some(y)) => out.extend(fields_diff(section, object, x, y)),
                (None, None) => {}
            }
        }
    }
    out
}

fn fields_diff(section: &str, object: &str, here: &Fields, there: &Fields) -> Vec<Difference> {
    let mut fields: Vec<&String> = here.keys().chain(there.keys()).collect();
    fields.sort();
    fields.dedup();
    fields
        .into_iter()
        .filter(|f| here.get(*f) != there.get(*f))
        .map(|f| Difference::Field {
            section: section.to_string(),
            object: object.to_string(),
            field: f.clone(),
            here: here.get(f).cloned(),
            there: there.get(f).cloned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    fn sample() -> Fingerprint {
        let mut f = Fingerprint::default();
        f.insert(
            "table",
            "public.prices_daily_p2024_01",
            fields(&[("rows", "10"), ("checksum", "1/2")]),
        );
        f.insert(
            "partition",
            "prices_daily_p2024_01",
            fields(&[("bound", "FOR VALUES FROM ('2024-01-01') TO ('2024-02-01')")]),
        );
        f.insert(
            "config",
            "prices_daily",
            fields(&[("retain_months", "NULL"), ("premake_months", "3")]),
        );
        f.insert(
            "cron job",
            "weston_rotate_partitions",
            fields(&[("schedule", "15 6 * * *")]),
        );
        f
    }

    #[test]
    fn identical_fingerprints_have_no_difference() {
        assert_eq!(diff(&sample(), &sample()), vec![]);
        assert_eq!(
            diff(&Fingerprint::default(), &Fingerprint::default()),
            vec![]
        );
    }

    #[test]
    fn each_kind_of_difference_is_named() {
        let here = sample();
        let mut there = sample();
        there.insert(
            "table",
            "public.prices_daily_p2024_01",
            fields(&[("rows", "11"), ("checksum", "1/2")]),
        );
        there.sections.get_mut("partition").unwrap().clear();
        there.insert(
            "config",
            "prices_daily",
            fields(&[("retain_months", "120"), ("premake_months", "3")]),
        );
        there.sections.remove("cron job");
        there.insert("extension", "pg_weston", fields(&[("version", "0.4.0")]));
        let found: Vec<String> = diff(&here, &there)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            found,
            vec![
                "config prices_daily: retain_months is NULL here, 120 there",
                "cron job weston_rotate_partitions: only in this database",
                "extension pg_weston: only in the other database",
                "partition prices_daily_p2024_01: only in this database",
                "table public.prices_daily_p2024_01: rows is 10 here, 11 there",
            ]
        );
    }

    #[test]
    fn a_field_on_one_side_only_is_a_difference() {
        let here = sample();
        let mut there = sample();
        there.insert(
            "cron job",
            "weston_rotate_partitions",
            fields(&[("schedule", "15 6 * * *"), ("active", "t")]),
        );
        assert_eq!(
            diff(&here, &there)
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            vec!["cron job weston_rotate_partitions: active is (none) here, t there"]
        );
    }

    #[test]
    fn a_saved_fingerprint_reads_back_equal() {
        let text = serde_json::to_string(&sample()).unwrap();
        let back: Fingerprint = serde_json::from_str(&text).unwrap();
        assert_eq!(diff(&sample(), &back), vec![]);
    }
}
