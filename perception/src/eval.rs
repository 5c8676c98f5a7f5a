//! Detection evaluation against ground truth, in the truck frame.
//!
//! [`match_frame`] pairs detections with labelled objects: greedy by detection confidence,
//! class-agnostic, on centre distance. [`EvalSet`] accumulates recall and precision over frames,
//! overall and in bins of range and dust level.
//!
//! Only **eligible** objects count for recall: footprint `max(length, width) ≥ min_size_m`,
//! range `≤ max_range_m` and at least `min_points` sensor returns. A detection matched to an
//! ineligible object is ignored (neither a true nor a false positive); an unmatched detection is
//! a false positive when its range is `≤ max_range_m`, and ignored beyond.

use crate::types::{Detection, GroundTruth};
use serde::Serialize;

/// One detection–object pair.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct MatchPair {
    /// Index into the detections.
    pub det: usize,
    /// Index into the ground truth.
    pub truth: usize,
    /// Centre distance, m.
    pub dist_m: f32,
}

/// The outcome of matching one frame.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FrameMatch {
    /// Pairs, in matching order (detections by decreasing confidence).
    pub pairs: Vec<MatchPair>,
    /// Indices of unmatched detections, ascending.
    pub false_positives: Vec<usize>,
    /// Indices of unmatched objects, ascending.
    pub misses: Vec<usize>,
}

/// The largest centre distance at which a detection matches `truth`: `max_dist_m`, or half the
/// object's larger extent if that is more, m.
pub fn gate_m(truth: &GroundTruth, max_dist_m: f32) -> f32 {
    max_dist_m.max(0.5 * truth.length.max(truth.width))
}

/// Matches detections to objects: detections in order of decreasing confidence (ties by index;
/// a NaN confidence goes last) each take the nearest object not yet taken within its
/// [`gate_m`]. Classes are not compared. Detections or objects with a non-finite centre match
/// nothing.
pub fn match_frame(dets: &[Detection], truth: &[GroundTruth], max_dist_m: f32) -> FrameMatch {
    let key = |d: &Detection| {
        if d.confidence.is_nan() {
            f32::NEG_INFINITY
        } else {
            d.confidence
        }
    };
    let mut order: Vec<usize> = (0..dets.len()).collect();
    order.sort_by(|&a, &b| key(&dets[b]).total_cmp(&key(&dets[a])).then(a.cmp(&b)));

    let mut taken = vec![false; truth.len()];
    let mut det_matched = vec![false; dets.len()];
    let mut pairs = Vec::new();
    for di in order {
        let d = &dets[di];
        if !(d.x.is_finite() && d.y.is_finite()) {
            continue;
        }
        let mut best: Option<(usize, f32)> = None;
        for (ti, t) in truth.iter().enumerate() {
            if taken[ti] || !(t.x.is_finite() && t.y.is_finite()) {
                continue;
            }
            let dist = (d.x - t.x).hypot(d.y - t.y);
            if dist <= gate_m(t, max_dist_m) && best.is_none_or(|(_, b)| dist < b) {
                best = Some((ti, dist));
            }
        }
        if let Some((ti, dist)) = best {
            taken[ti] = true;
            det_matched[di] = true;
            pairs.push(MatchPair {
                det: di,
                truth: ti,
                dist_m: dist,
            });
        }
    }
    FrameMatch {
        pairs,
        false_positives: (0..dets.len()).filter(|&i| !det_matched[i]).collect(),
        misses: (0..truth.len()).filter(|&i| !taken[i]).collect(),
    }
}

/// Evaluation settings.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct EvalConfig {
    /// Smallest matching gate, m (see [`gate_m`]).
    pub max_dist_m: f32,
    /// Smallest eligible footprint, `max(length, width)`, m.
    pub min_size_m: f32,
    /// Farthest eligible object and farthest counted false positive, m.
    pub max_range_m: f32,
    /// Fewest sensor returns on an eligible object.
    pub min_points: u32,
}

impl Default for EvalConfig {
    /// 1.5 m gate, 1 m size, 60 m range, 2 points.
    fn default() -> Self {
        EvalConfig {
            max_dist_m: 1.5,
            min_size_m: 1.0,
            max_range_m: 60.0,
            min_points: 2,
        }
    }
}

impl EvalConfig {
    /// Whether `t` counts for recall.
    pub fn eligible(&self, t: &GroundTruth) -> bool {
        t.length.max(t.width) >= self.min_size_m
            && range_m(t.x, t.y) <= self.max_range_m
            && t.points >= self.min_points
    }
}

/// Figures of one bin. `recall` is NaN when the bin has no objects, `precision` when it has no
/// counted detections.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BinFigures {
    pub label: String,
    /// True positives, misses (false negatives), false positives.
    pub tp: u64,
    #[serde(rename = "fn")]
    pub fn_: u64,
    pub fp: u64,
    pub recall: f64,
    pub precision: f64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Counts {
    tp: u64,
    fn_: u64,
    fp: u64,
}

impl Counts {
    fn figures(&self, label: &str) -> BinFigures {
        BinFigures {
            label: label.to_string(),
            tp: self.tp,
            fn_: self.fn_,
            fp: self.fp,
            recall: ratio(self.tp, self.tp + self.fn_),
            precision: ratio(self.tp, self.tp + self.fp),
        }
    }
}

fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        f64::NAN
    } else {
        num as f64 / den as f64
    }
}

fn range_m(x: f32, y: f32) -> f32 {
    x.hypot(y)
}

/// Range bins: `[0, 20)`, `[20, 40)`, `[40, 60]`, above 60 m.
pub const RANGE_LABELS: [&str; 4] = ["0–20 m", "20–40 m", "40–60 m", "60+ m"];
/// Dust bins: `0` (or less), `(0, 0.3]`, `(0.3, 0.6]`, above 0.6.
pub const DUST_LABELS: [&str; 4] = ["0", "(0, 0.3]", "(0.3, 0.6]", "(0.6, 1]"];

fn range_bin(r: f32) -> usize {
    if r < 20.0 {
        0
    } else if r < 40.0 {
        1
    } else if r <= 60.0 {
        2
    } else {
        3
    }
}

fn dust_bin(dust: f64) -> Option<usize> {
    if dust.is_nan() {
        None
    } else if dust <= 0.0 {
        Some(0)
    } else if dust <= 0.3 {
        Some(1)
    } else if dust <= 0.6 {
        Some(2)
    } else {
        Some(3)
    }
}

/// Recall and precision accumulated over frames.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EvalSet {
    cfg: EvalConfig,
    frames: u64,
    total: Counts,
    by_range: [Counts; 4],
    by_dust: [Counts; 4],
}

impl EvalSet {
    /// An empty set.
    pub fn new(cfg: EvalConfig) -> Self {
        EvalSet {
            cfg,
            ..EvalSet::default()
        }
    }

    /// The settings.
    pub fn config(&self) -> &EvalConfig {
        &self.cfg
    }

    /// Frames added.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Matches one frame and adds it. True positives and misses go to the object's range bin,
    /// false positives to the detection's; all go to the frame's `dust` bin (none for a NaN
    /// `dust`, which still counts overall).
    pub fn add_frame(&mut self, dets: &[Detection], truth: &[GroundTruth], dust: f64) {
        let cfg = self.cfg;
        let m = match_frame(dets, truth, cfg.max_dist_m);
        let dust = dust_bin(dust);
        self.frames += 1;
        let mut add = |r: f32, f: &dyn Fn(&mut Counts)| {
            f(&mut self.total);
            f(&mut self.by_range[range_bin(r)]);
            if let Some(b) = dust {
                f(&mut self.by_dust[b]);
            }
        };
        for p in &m.pairs {
            let t = &truth[p.truth];
            if cfg.eligible(t) {
                add(range_m(t.x, t.y), &|c| c.tp += 1);
            }
        }
        for &i in &m.misses {
            let t = &truth[i];
            if cfg.eligible(t) {
                add(range_m(t.x, t.y), &|c| c.fn_ += 1);
            }
        }
        for &i in &m.false_positives {
            let r = range_m(dets[i].x, dets[i].y);
            if r <= cfg.max_range_m {
                add(r, &|c| c.fp += 1);
            }
        }
    }

    /// Overall recall (NaN with no eligible objects).
    pub fn recall(&self) -> f64 {
        ratio(self.total.tp, self.total.tp + self.total.fn_)
    }

    /// Overall precision (NaN with no counted detections).
    pub fn precision(&self) -> f64 {
        ratio(self.total.tp, self.total.tp + self.total.fp)
    }

    /// Overall figures, labelled `all`.
    pub fn overall(&self) -> BinFigures {
        self.total.figures("all")
    }

    /// Figures per range bin ([`RANGE_LABELS`]).
    pub fn by_range(&self) -> Vec<BinFigures> {
        self.by_range
            .iter()
            .zip(RANGE_LABELS)
            .map(|(c, l)| c.figures(l))
            .collect()
    }

    /// Figures per dust bin ([`DUST_LABELS`]).
    pub fn by_dust(&self) -> Vec<BinFigures> {
        self.by_dust
            .iter()
            .zip(DUST_LABELS)
            .map(|(c, l)| c.figures(l))
            .collect()
    }

    /// A markdown table: overall, then range bins, then dust bins; columns bin, truths
    /// (`tp + fn`), detections (`tp + fp`), recall, precision (`–` where undefined).
    pub fn table(&self) -> String {
        let fmt = |v: f64| {
            if v.is_nan() {
                "–".to_string()
            } else {
                format!("{v:.3}")
            }
        };
        let mut s = String::from(
            "| bin | truths | detections | recall | precision |\n|---|---:|---:|---:|---:|\n",
        );
        let rows = std::iter::once(("", self.overall()))
            .chain(self.by_range().into_iter().map(|b| ("range ", b)))
            .chain(self.by_dust().into_iter().map(|b| ("dust ", b)));
        for (prefix, b) in rows {
            s.push_str(&format!(
                "| {prefix}{} | {} | {} | {} | {} |\n",
                b.label,
                b.tp + b.fn_,
                b.tp + b.fp,
                fmt(b.recall),
                fmt(b.precision)
            ));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ObstacleClass;

    fn truth(x: f32, y: f32, size: f32, points: u32) -> GroundTruth {
        GroundTruth {
            class: ObstacleClass::Rock,
            x,
            y,
            length: size,
            width: size,
            height: 1.0,
            yaw: 0.0,
            points,
        }
    }

    fn det(x: f32, y: f32, confidence: f32) -> Detection {
        Detection {
            class: ObstacleClass::Rock,
            x,
            y,
            length: 1.5,
            width: 1.5,
            confidence,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn perfect_detections_give_full_recall_and_precision() {
        let truths = [
            truth(10.0, 1.0, 1.5, 30),
            truth(30.0, -2.0, 1.5, 10),
            truth(50.0, 0.0, 1.5, 4),
        ];
        let dets: Vec<Detection> = truths.iter().map(|t| det(t.x, t.y, 0.9)).collect();
        let mut e = EvalSet::new(EvalConfig::default());
        e.add_frame(&dets, &truths, 0.0);
        e.add_frame(&dets, &truths, 0.5);
        assert_eq!(e.frames(), 2);
        assert!(close(e.recall(), 1.0) && close(e.precision(), 1.0));
        let r = e.by_range();
        assert_eq!(
            r.iter().map(|b| b.tp).collect::<Vec<_>>(),
            [2, 2, 2, 0],
            "{r:?}"
        );
        assert!(r[3].recall.is_nan() && r[3].precision.is_nan());
        let d = e.by_dust();
        assert_eq!(d.iter().map(|b| b.tp).collect::<Vec<_>>(), [3, 0, 3, 0]);
    }

    #[test]
    fn a_miss_and_a_ghost_lower_recall_and_precision() {
        let truths = [
            truth(10.0, 0.0, 1.5, 30),
            truth(15.0, 3.0, 2.0, 20),
            truth(30.0, 0.0, 1.5, 10),
            truth(45.0, 0.0, 1.5, 5),
        ];
        // The object at 45 m is missed; a ghost at 25 m.
        let dets = [
            det(10.3, 0.2, 0.9),
            det(15.0, 2.5, 0.8),
            det(29.5, 0.0, 0.7),
            det(25.0, 5.0, 0.6),
        ];
        let mut e = EvalSet::new(EvalConfig::default());
        e.add_frame(&dets, &truths, 0.2);
        assert!(close(e.recall(), 3.0 / 4.0), "{}", e.recall());
        assert!(close(e.precision(), 3.0 / 4.0), "{}", e.precision());
        let r = e.by_range();
        assert_eq!((r[0].tp, r[0].fn_, r[0].fp), (2, 0, 0));
        assert_eq!((r[1].tp, r[1].fn_, r[1].fp), (1, 0, 1));
        assert_eq!((r[2].tp, r[2].fn_, r[2].fp), (0, 1, 0));
        assert!(close(r[1].precision, 0.5) && close(r[2].recall, 0.0));
        assert_eq!(e.by_dust()[1].tp, 3);
    }

    #[test]
    fn far_hidden_and_small_objects_are_not_counted() {
        let truths = [
            truth(20.0, 0.0, 1.5, 10), // eligible, detected
            truth(70.0, 0.0, 5.0, 50), // beyond 60 m, detected
            truth(72.0, 5.0, 5.0, 50), // beyond 60 m, missed
            truth(30.0, 0.0, 1.5, 0),  // occluded, detected
            truth(35.0, 8.0, 1.5, 1),  // one return, missed
            truth(12.0, 6.0, 0.5, 9),  // too small, missed
        ];
        let dets = [
            det(20.0, 0.0, 0.9),
            det(70.0, 0.0, 0.9),
            det(30.0, 0.0, 0.9),
            det(80.0, -10.0, 0.9), // unmatched beyond 60 m: not a false positive
        ];
        let mut e = EvalSet::new(EvalConfig::default());
        e.add_frame(&dets, &truths, 0.0);
        let o = e.overall();
        assert_eq!((o.tp, o.fn_, o.fp), (1, 0, 0), "{o:?}");
        assert!(close(e.recall(), 1.0) && close(e.precision(), 1.0));
    }

    #[test]
    fn greedy_by_confidence_and_size_scaled_gate() {
        // Two detections near one object: the more confident takes it, the other is a ghost.
        let truths = [truth(10.0, 0.0, 1.5, 10)];
        let dets = [det(10.1, 0.0, 0.4), det(10.8, 0.0, 0.9)];
        let m = match_frame(&dets, &truths, 1.5);
        assert_eq!(m.pairs.len(), 1);
        assert_eq!((m.pairs[0].det, m.pairs[0].truth), (1, 0));
        assert_eq!(m.false_positives, [0]);
        assert!(m.misses.is_empty());

        // A 15 m machine: a centre 5 m off still matches (gate 7.5 m), 8 m off does not.
        let machine = [truth(30.0, 0.0, 15.0, 100)];
        assert_eq!(
            match_frame(&[det(35.0, 0.0, 0.9)], &machine, 1.5)
                .pairs
                .len(),
            1
        );
        let m = match_frame(&[det(38.0, 0.0, 0.9)], &machine, 1.5);
        assert!(m.pairs.is_empty() && m.misses == [0] && m.false_positives == [0]);
    }

    #[test]
    fn nan_detections_match_nothing() {
        let truths = [truth(10.0, 0.0, 1.5, 10)];
        let dets = [det(f32::NAN, 0.0, 0.9), det(10.0, 0.0, f32::NAN)];
        let m = match_frame(&dets, &truths, 1.5);
        assert_eq!((m.pairs[0].det, m.pairs[0].truth), (1, 0));
        assert_eq!(m.false_positives, [0]);
        let mut e = EvalSet::default();
        e.add_frame(&dets, &truths, f64::NAN);
        let o = e.overall();
        assert_eq!((o.tp, o.fn_, o.fp), (1, 0, 0));
        assert!(e.by_dust().iter().all(|b| b.tp == 0));
    }

    #[test]
    fn table_lists_every_bin() {
        let mut e = EvalSet::new(EvalConfig::default());
        e.add_frame(&[det(10.0, 0.0, 0.9)], &[truth(10.0, 0.0, 1.5, 10)], 0.7);
        let t = e.table();
        assert_eq!(t.lines().count(), 2 + 1 + 4 + 4, "{t}");
        assert!(t.contains("| all | 1 | 1 | 1.000 | 1.000 |"), "{t}");
        assert!(t.contains("| range 60+ m | 0 | 0 | – | – |"), "{t}");
        assert!(
            t.contains("| dust (0.6, 1] | 1 | 1 | 1.000 | 1.000 |"),
            "{t}"
        );
    }
}
