//! `minesim compare`: the same shift under several dispatch policies and seeds, each
//! policy's KPIs as mean ± standard deviation over the seeds.
//!
//! The runs are independent shifts ([`crate::run::run_shift`]); this module only gathers
//! their reports ([`compare`]) and prints the table ([`Comparison::table`]).

use crate::report::Report;
use serde::Serialize;

/// A figure over the seeds: mean and sample standard deviation (0 for one seed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Stat {
    pub mean: f64,
    pub sd: f64,
}

impl Stat {
    pub fn of(xs: &[f64]) -> Stat {
        if xs.is_empty() {
            return Stat::default();
        }
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let sd = if xs.len() < 2 {
            0.0
        } else {
            (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
        };
        Stat { mean, sd }
    }

    fn show(self, decimals: usize) -> String {
        format!("{:.*} ± {:.*}", decimals, self.mean, decimals, self.sd)
    }
}

/// One policy over every seed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PolicyRow {
    pub policy: String,
    pub seeds: Vec<u64>,
    pub tonnes: Stat,
    pub tonnes_per_hour: Stat,
    pub mean_cycle_s: Stat,
    pub mean_queue_loader_s: Stat,
    pub mean_queue_dump_s: Stat,
    pub truck_utilisation: Stat,
    pub loader_utilisation: Stat,
    /// Summed over the seeds.
    pub collisions: u64,
    pub permission_violations: u64,
}

/// Every policy's row, in the order asked for.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    pub trucks: usize,
    pub sim_seconds: f64,
    pub transport: String,
    pub rows: Vec<PolicyRow>,
}

/// Gathers `(policy, report)` pairs into one row per policy, in first-seen order.
pub fn compare(runs: &[(String, Report)]) -> Comparison {
    let mut names: Vec<&str> = Vec::new();
    for (p, _) in runs {
        if !names.contains(&p.as_str()) {
            names.push(p);
        }
    }
    let rows = names
        .iter()
        .map(|name| {
            let rs: Vec<&Report> = runs
                .iter()
                .filter(|(p, _)| p == name)
                .map(|(_, r)| r)
                .collect();
            let stat =
                |f: fn(&Report) -> f64| Stat::of(&rs.iter().map(|r| f(r)).collect::<Vec<_>>());
            PolicyRow {
                policy: name.to_string(),
                seeds: rs.iter().map(|r| r.seed).collect(),
                tonnes: stat(|r| r.tonnes),
                tonnes_per_hour: stat(|r| r.tonnes_per_hour),
                mean_cycle_s: stat(|r| r.mean_cycle_s),
                mean_queue_loader_s: stat(|r| r.mean_queue_loader_s),
                mean_queue_dump_s: stat(|r| r.mean_queue_dump_s),
                truck_utilisation: stat(|r| r.truck_utilisation),
                loader_utilisation: stat(|r| r.loader_utilisation),
                collisions: rs.iter().map(|r| r.collisions).sum(),
                permission_violations: rs.iter().map(|r| r.permission_violations).sum(),
            }
        })
        .collect();
    let first = runs.first().map(|(_, r)| r);
    Comparison {
        trucks: first.map_or(0, |r| r.trucks),
        sim_seconds: first.map_or(0.0, |r| r.sim_seconds),
        transport: first.map_or_else(String::new, |r| r.config.transport.clone()),
        rows,
    }
}

impl Comparison {
    /// The table: one line per policy, and each policy's tonnes against the first's.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{} trucks, {:.0} s, {} transport; mean ± sd over the seeds\n",
            self.trucks, self.sim_seconds, self.transport
        );
        out += &format!(
            "{:<8} {:>5} {:>18} {:>16} {:>6} {:>14} {:>14} {:>14} {:>14} {:>14} {:>4}\n",
            "policy",
            "seeds",
            "tonnes",
            "t/h",
            "vs 1st",
            "cycle s",
            "queue load s",
            "queue dump s",
            "truck util",
            "loader util",
            "coll"
        );
        let base = self.rows.first().map_or(0.0, |r| r.tonnes.mean);
        for r in &self.rows {
            let rel = if base > 0.0 {
                format!("{:+.1}%", 100.0 * (r.tonnes.mean / base - 1.0))
            } else {
                "-".to_string()
            };
            out += &format!(
                "{:<8} {:>5} {:>18} {:>16} {:>6} {:>14} {:>14} {:>14} {:>14} {:>14} {:>4}\n",
                r.policy,
                r.seeds.len(),
                r.tonnes.show(0),
                r.tonnes_per_hour.show(0),
                rel,
                r.mean_cycle_s.show(0),
                r.mean_queue_loader_s.show(0),
                r.mean_queue_dump_s.show(0),
                r.truck_utilisation.show(3),
                r.loader_utilisation.show(3),
                r.collisions + r.permission_violations
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_are_the_sample_mean_and_deviation() {
        let s = Stat::of(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(s.mean, 5.0);
        assert!((s.sd - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
        assert_eq!(Stat::of(&[3.0]), Stat { mean: 3.0, sd: 0.0 });
        assert_eq!(Stat::of(&[]), Stat::default());
    }
}
