//! The figures of one size: printed as they come, appended to the results file, and the
//! growth table over every size recorded there.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;

pub struct Figures {
    symbols: u32,
    years: u32,
    /// (figure, value, unit), in the order measured.
    rows: Vec<(String, f64, &'static str)>,
}

impl Figures {
    pub fn new(symbols: u32, years: u32) -> Figures {
        Figures {
            symbols,
            years,
            rows: Vec::new(),
        }
    }

    /// A figure with nothing to compare it with.
    pub fn value(&mut self, name: &str, value: f64, unit: &'static str) {
        println!("  {name:<72} {value:>12.1} {unit}");
        self.rows.push((name.to_string(), value, unit));
    }

    /// A figure next to its limit (a measured one), the ratio and the goal on the ratio.
    pub fn ratio(&mut self, name: &str, value: f64, limit: f64, unit: &'static str, goal: &str) {
        let ratio = value / limit;
        println!(
            "  {name:<72} {value:>12.1} {unit} limit {limit:>12.1} {unit}  ratio {ratio:>6.2} {goal}"
        );
        self.rows.push((name.to_string(), value, unit));
        self.rows.push((format!("{name} (ratio)"), ratio, "x"));
    }

    /// A figure next to a fixed goal it must stay under.
    pub fn limit(&mut self, name: &str, value: f64, goal: f64, unit: &'static str) {
        let verdict = if value < goal { "ok" } else { "MISSED" };
        println!(
            "  {name:<72} {value:>12.1} {unit} goal < {goal} {unit}  {:>6.2} of goal {verdict}",
            value / goal
        );
        self.rows.push((name.to_string(), value, unit));
    }

    pub fn append_to(&self, path: &str) {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        for (name, value, unit) in &self.rows {
            writeln!(
                file,
                "{}\t{}\t{name}\t{value}\t{unit}",
                self.symbols, self.years
            )
            .unwrap();
        }
    }
}

/// Every figure recorded for `years`, one column per universe size (the latest record of
/// each), with the growth from the smallest size to the largest.
pub fn growth(path: &str, years: u32) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut order: Vec<String> = Vec::new();
    let mut table: BTreeMap<String, BTreeMap<u32, (f64, String)>> = BTreeMap::new();
    for line in text.lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        let [symbols, y, name, value, unit] = cols[..] else {
            continue;
        };
        if y.parse() != Ok(years) {
            continue;
        }
        let (Ok(symbols), Ok(value)) = (symbols.parse::<u32>(), value.parse::<f64>()) else {
            continue;
        };
        if !order.iter().any(|n| n == name) {
            order.push(name.to_string());
        }
        table
            .entry(name.to_string())
            .or_default()
            .insert(symbols, (value, unit.to_string()));
    }
    let sizes: Vec<u32> = {
        let mut s: Vec<u32> = table.values().flat_map(|m| m.keys().copied()).collect();
        s.sort_unstable();
        s.dedup();
        s
    };
    let mut out = String::new();
    let _ = write!(out, "  {:<72}", "figure");
    for s in &sizes {
        let _ = write!(out, " {:>12}", format!("{s} sym"));
    }
    let _ = writeln!(out, "   growth   unit");
    for name in order {
        let row = &table[&name];
        let _ = write!(out, "  {name:<72}");
        for s in &sizes {
            match row.get(s) {
                Some((v, _)) => {
                    let _ = write!(out, " {v:>12.2}");
                }
                None => {
                    let _ = write!(out, " {:>12}", "-");
                }
            }
        }
        let first = row.values().next().map(|x| x.0).unwrap_or(0.0);
        let (last, unit) = row
            .values()
            .last()
            .map(|x| (x.0, x.1.clone()))
            .unwrap_or_default();
        let growth = if first != 0.0 { last / first } else { f64::NAN };
        let _ = writeln!(out, "   x{growth:<6.2} {unit}");
    }
    out
}
