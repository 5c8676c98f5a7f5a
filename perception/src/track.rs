//! Multi-object tracking of obstacles in the site frame (`x` east, `y` north, m; time in µs of
//! simulated time).
//!
//! Each track is a constant-velocity Kalman filter over `(x, y, vx, vy)`. An update predicts
//! every track to `now`, assigns detections to tracks with the Hungarian algorithm
//! ([`pathfinding::kuhn_munkres`]) on centre distances within a gate, corrects the matched
//! tracks, starts tentative tracks from unmatched detections and deletes tracks not updated for
//! [`TrackerConfig::max_coast_us`]. A track is confirmed after [`TrackerConfig::hits_to_confirm`]
//! associated detections. Association is class-agnostic; a track's class is the
//! confidence-weighted majority of its detections' classes.
//!
//! Deterministic: ids are given in creation order and tracks are kept sorted by id. Detections
//! with a non-finite field are ignored.

use crate::types::{Detection, ObstacleClass};
use pathfinding::kuhn_munkres::kuhn_munkres;
use pathfinding::matrix::Matrix;

/// A detection moved into the site frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WorldDetection {
    pub class: ObstacleClass,
    /// Centre, site frame (east, north), m.
    pub x: f64,
    pub y: f64,
    /// Footprint as the detector gave it (along and across the truck's heading), m.
    pub length: f64,
    pub width: f64,
    /// Heatmap peak, 0–1.
    pub confidence: f32,
}

impl WorldDetection {
    fn is_usable(&self, min_confidence: f32) -> bool {
        const FAR: f64 = 1e7;
        self.x.is_finite()
            && self.y.is_finite()
            && self.x.abs() <= FAR
            && self.y.abs() <= FAR
            && self.length.is_finite()
            && self.width.is_finite()
            && self.confidence.is_finite()
            && self.confidence >= min_confidence
    }
}

/// Moves a truck-frame detection (`x` forward, `y` left) into the site frame, given the truck's
/// position (m) and heading (rad from east, counter-clockwise).
pub fn to_world(d: &Detection, truck_x: f64, truck_y: f64, truck_heading: f64) -> WorldDetection {
    let (s, c) = truck_heading.sin_cos();
    let (dx, dy) = (f64::from(d.x), f64::from(d.y));
    WorldDetection {
        class: d.class,
        x: truck_x + c * dx - s * dy,
        y: truck_y + s * dx + c * dy,
        length: f64::from(d.length),
        width: f64::from(d.width),
        confidence: d.confidence,
    }
}

/// Tracker settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrackerConfig {
    /// Largest distance between a track's predicted centre and a detection it may take, m.
    pub gate_m: f64,
    /// Standard deviation of the (white) acceleration of the constant-velocity model, m/s².
    pub accel_sigma: f64,
    /// Standard deviation of a detection's centre, per axis, m.
    pub meas_sigma_m: f64,
    /// Standard deviation of a new track's velocity, per axis, m/s.
    pub init_vel_sigma: f64,
    /// Associated detections (the first included) before a track is confirmed.
    pub hits_to_confirm: u32,
    /// A track not updated for longer than this is deleted, µs.
    pub max_coast_us: u64,
    /// Detections below this confidence are ignored.
    pub min_confidence: f32,
    /// Weight of a new detection in the smoothed footprint and confidence, (0, 1].
    pub size_alpha: f64,
}

impl Default for TrackerConfig {
    /// 3 m gate, 1 m/s² acceleration, 0.25 m measurement sigma, 10 m/s initial velocity
    /// sigma, 2 hits to confirm, 0.6 s coast, 0.3 minimum confidence, 0.3 footprint weight.
    fn default() -> Self {
        TrackerConfig {
            gate_m: 3.0,
            accel_sigma: 1.0,
            meas_sigma_m: 0.25,
            init_vel_sigma: 10.0,
            hits_to_confirm: 2,
            max_coast_us: 600_000,
            min_confidence: 0.3,
            size_alpha: 0.3,
        }
    }
}

type Mat4 = [[f64; 4]; 4];

/// One tracked obstacle, site frame.
#[derive(Clone, Debug, PartialEq)]
pub struct Track {
    pub id: u32,
    pub class: ObstacleClass,
    /// Centre, m, and velocity, m/s, at `state_us` (the last update or prediction).
    pub x: f64,
    pub y: f64,
    pub vx: f64,
    pub vy: f64,
    /// Smoothed footprint, m.
    pub length: f64,
    pub width: f64,
    /// Smoothed confidence of the associated detections.
    pub confidence: f32,
    /// Time of the first detection, µs.
    pub first_seen_us: u64,
    /// Time of the last associated detection, µs.
    pub last_update_us: u64,
    /// Associated detections so far.
    pub hits: u32,
    /// Whether `hits` has reached the confirmation count (stays set).
    pub confirmed: bool,
    /// Time the state refers to, µs.
    pub state_us: u64,
    p: Mat4,
    class_votes: [f64; 4],
}

impl Track {
    /// Time since the first detection, µs (0 if `now_us` is earlier).
    pub fn age_us(&self, now_us: u64) -> u64 {
        now_us.saturating_sub(self.first_seen_us)
    }

    /// Time since the last associated detection, µs (0 if `now_us` is earlier).
    pub fn since_update_us(&self, now_us: u64) -> u64 {
        now_us.saturating_sub(self.last_update_us)
    }

    /// Trace of the position covariance, m².
    pub fn pos_cov_trace(&self) -> f64 {
        self.p[0][0] + self.p[1][1]
    }

    /// Position standard deviation, per axis (root mean of the two variances), m.
    pub fn pos_sigma_m(&self) -> f64 {
        (0.5 * self.pos_cov_trace()).max(0.0).sqrt()
    }

    /// Speed, m/s.
    pub fn speed(&self) -> f64 {
        self.vx.hypot(self.vy)
    }

    fn predict(&mut self, now_us: u64, accel_sigma: f64) {
        let dt = now_us.saturating_sub(self.state_us) as f64 * 1e-6;
        self.state_us = self.state_us.max(now_us);
        if dt <= 0.0 {
            return;
        }
        self.x += self.vx * dt;
        self.y += self.vy * dt;
        let p = &self.p;
        // P = F P Fᵀ with F = [I dt·I; 0 I].
        let mut fp = *p;
        for c in 0..4 {
            fp[0][c] += dt * p[2][c];
            fp[1][c] += dt * p[3][c];
        }
        let mut n = fp;
        for row in &mut n {
            row[0] += dt * row[2];
            row[1] += dt * row[3];
        }
        // Discrete white-noise acceleration.
        let q = accel_sigma * accel_sigma;
        let (q_pp, q_pv, q_vv) = (q * dt.powi(4) / 4.0, q * dt.powi(3) / 2.0, q * dt * dt);
        for (pos, vel) in [(0, 2), (1, 3)] {
            n[pos][pos] += q_pp;
            n[pos][vel] += q_pv;
            n[vel][pos] += q_pv;
            n[vel][vel] += q_vv;
        }
        self.p = n;
    }

    fn correct(&mut self, now_us: u64, d: &WorldDetection, cfg: &TrackerConfig) {
        let r = cfg.meas_sigma_m * cfg.meas_sigma_m;
        let p = self.p;
        let (s00, s01, s10, s11) = (p[0][0] + r, p[0][1], p[1][0], p[1][1] + r);
        let det = s00 * s11 - s01 * s10;
        if det.is_finite() && det > 0.0 {
            let inv = [[s11 / det, -s01 / det], [-s10 / det, s00 / det]];
            // K = P Hᵀ S⁻¹ (4 × 2).
            let mut k = [[0.0; 2]; 4];
            for (i, ki) in k.iter_mut().enumerate() {
                for (j, kij) in ki.iter_mut().enumerate() {
                    *kij = p[i][0] * inv[0][j] + p[i][1] * inv[1][j];
                }
            }
            let (ex, ey) = (d.x - self.x, d.y - self.y);
            self.x += k[0][0] * ex + k[0][1] * ey;
            self.y += k[1][0] * ex + k[1][1] * ey;
            self.vx += k[2][0] * ex + k[2][1] * ey;
            self.vy += k[3][0] * ex + k[3][1] * ey;
            // P = (I − K H) P.
            let mut n = p;
            for (i, row) in n.iter_mut().enumerate() {
                for (c, v) in row.iter_mut().enumerate() {
                    *v -= k[i][0] * p[0][c] + k[i][1] * p[1][c];
                }
            }
            // Keep it symmetric.
            for (i, j) in [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)] {
                let m = 0.5 * (n[i][j] + n[j][i]);
                n[i][j] = m;
                n[j][i] = m;
            }
            self.p = n;
        }
        let a = cfg.size_alpha.clamp(f64::MIN_POSITIVE, 1.0);
        self.length += a * (d.length.max(0.0) - self.length);
        self.width += a * (d.width.max(0.0) - self.width);
        self.confidence += a as f32 * (d.confidence - self.confidence);
        self.class_votes[d.class.index()] += f64::from(d.confidence.max(1e-3));
        self.class = majority(&self.class_votes, d.class);
        self.hits = self.hits.saturating_add(1);
        self.last_update_us = self.last_update_us.max(now_us);
        if self.hits >= cfg.hits_to_confirm {
            self.confirmed = true;
        }
    }
}

/// The class with the most votes; ties go to `latest` when it is among the leaders, else to the
/// earliest class in [`ObstacleClass::ALL`].
fn majority(votes: &[f64; 4], latest: ObstacleClass) -> ObstacleClass {
    let best = votes.iter().copied().fold(f64::MIN, f64::max);
    if votes[latest.index()] >= best {
        return latest;
    }
    ObstacleClass::ALL
        .into_iter()
        .find(|c| votes[c.index()] >= best)
        .unwrap_or(latest)
}

/// The tracker: its tracks, sorted by id.
#[derive(Clone, Debug)]
pub struct Tracker {
    cfg: TrackerConfig,
    tracks: Vec<Track>,
    next_id: u32,
}

/// Distances are scaled to integer millimetres for the assignment.
const SCALE: f64 = 1000.0;
/// Weight of a pair outside the gate (never better than leaving the track unassigned).
const FORBIDDEN: i64 = -1_000_000_000_000;

impl Tracker {
    /// A tracker with no tracks.
    pub fn new(cfg: TrackerConfig) -> Self {
        Tracker {
            cfg,
            tracks: Vec::new(),
            next_id: 1,
        }
    }

    /// The settings.
    pub fn config(&self) -> &TrackerConfig {
        &self.cfg
    }

    /// All tracks (tentative ones included), sorted by id.
    pub fn tracks(&self) -> &[Track] {
        &self.tracks
    }

    /// The confirmed tracks, sorted by id.
    pub fn confirmed(&self) -> impl Iterator<Item = &Track> + '_ {
        self.tracks.iter().filter(|t| t.confirmed)
    }

    /// Predicts every track to `now_us`, associates `dets`, corrects, starts and deletes tracks;
    /// returns all tracks. A `now_us` earlier than a track's state time does not move it back.
    pub fn update(&mut self, now_us: u64, dets: &[WorldDetection]) -> &[Track] {
        let cfg = self.cfg;
        for t in &mut self.tracks {
            t.predict(now_us, cfg.accel_sigma);
        }
        let dets: Vec<&WorldDetection> = dets
            .iter()
            .filter(|d| d.is_usable(cfg.min_confidence))
            .collect();

        let assigned = self.assign(&dets);
        let mut det_used = vec![false; dets.len()];
        for (ti, di) in assigned.iter().enumerate() {
            if let Some(di) = *di {
                det_used[di] = true;
                self.tracks[ti].correct(now_us, dets[di], &cfg);
            }
        }

        self.tracks
            .retain(|t| t.since_update_us(now_us) <= cfg.max_coast_us);

        for (d, _) in dets.iter().zip(&det_used).filter(|(_, used)| !**used) {
            self.start(now_us, d);
        }
        &self.tracks
    }

    /// For each track, the index of the detection it takes, if any.
    fn assign(&self, dets: &[&WorldDetection]) -> Vec<Option<usize>> {
        let (n, m) = (self.tracks.len(), dets.len());
        let mut out = vec![None; n];
        if n == 0 || m == 0 {
            return out;
        }
        let gate = self.cfg.gate_m.max(0.0);
        let dummy = -((gate * SCALE).round() as i64) - 1;
        // Rows: tracks. Columns: detections, then one "unassigned" column per track.
        let mut w = Matrix::new(n, m + n, dummy);
        for (i, t) in self.tracks.iter().enumerate() {
            for (j, d) in dets.iter().enumerate() {
                let dist = (d.x - t.x).hypot(d.y - t.y);
                w[(i, j)] = if dist <= gate {
                    -((dist * SCALE).round() as i64)
                } else {
                    FORBIDDEN
                };
            }
        }
        let (_, cols) = kuhn_munkres(&w);
        for (i, &j) in cols.iter().enumerate() {
            if j < m && w[(i, j)] != FORBIDDEN {
                out[i] = Some(j);
            }
        }
        out
    }

    fn start(&mut self, now_us: u64, d: &WorldDetection) {
        let r = self.cfg.meas_sigma_m * self.cfg.meas_sigma_m;
        let v = self.cfg.init_vel_sigma * self.cfg.init_vel_sigma;
        let mut p = [[0.0; 4]; 4];
        p[0][0] = r;
        p[1][1] = r;
        p[2][2] = v;
        p[3][3] = v;
        let mut class_votes = [0.0; 4];
        class_votes[d.class.index()] = f64::from(d.confidence.max(1e-3));
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        self.tracks.push(Track {
            id,
            class: d.class,
            x: d.x,
            y: d.y,
            vx: 0.0,
            vy: 0.0,
            length: d.length.max(0.0),
            width: d.width.max(0.0),
            confidence: d.confidence,
            first_seen_us: now_us,
            last_update_us: now_us,
            hits: 1,
            confirmed: self.cfg.hits_to_confirm <= 1,
            state_us: now_us,
            p,
            class_votes,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small seeded generator for test noise (xorshift64*, Box–Muller).
    struct Noise(u64);

    impl Noise {
        fn uniform(&mut self) -> f64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            let r = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
            ((r >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        }

        fn gauss(&mut self, sigma: f64) -> f64 {
            let (u1, u2) = (self.uniform(), self.uniform());
            sigma * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
        }
    }

    fn det(class: ObstacleClass, x: f64, y: f64) -> WorldDetection {
        WorldDetection {
            class,
            x,
            y,
            length: 5.5,
            width: 2.0,
            confidence: 0.9,
        }
    }

    const DT_US: u64 = 100_000;

    #[test]
    fn to_world_rotates_and_translates() {
        let d = Detection {
            class: ObstacleClass::Rock,
            x: 10.0,
            y: 2.0,
            length: 1.0,
            width: 1.0,
            confidence: 0.8,
        };
        let w = to_world(&d, 100.0, 50.0, std::f64::consts::FRAC_PI_2);
        assert!(
            (w.x - 98.0).abs() < 1e-9 && (w.y - 60.0).abs() < 1e-9,
            "{w:?}"
        );
        let w = to_world(&d, 0.0, 0.0, 0.0);
        assert!(
            (w.x - 10.0).abs() < 1e-9 && (w.y - 2.0).abs() < 1e-9,
            "{w:?}"
        );
    }

    #[test]
    fn constant_velocity_target_gets_its_velocity() {
        // 5 m/s east, 0.25 m detection noise per axis, 10 Hz, 2 s; several seeds.
        for seed in 1..=8u64 {
            let mut tr = Tracker::new(TrackerConfig::default());
            let mut noise = Noise(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            for k in 0..=20u64 {
                let t = k as f64 * 0.1;
                let d = det(
                    ObstacleClass::LightVehicle,
                    10.0 + 5.0 * t + noise.gauss(0.25),
                    -3.0 + noise.gauss(0.25),
                );
                tr.update(k * DT_US, &[d]);
            }
            assert_eq!(tr.tracks().len(), 1, "seed {seed}");
            let t = &tr.tracks()[0];
            assert!(t.confirmed);
            assert_eq!(t.hits, 21);
            assert!(
                (t.vx - 5.0).abs() < 0.5 && t.vy.abs() < 0.5,
                "seed {seed}: v = ({}, {})",
                t.vx,
                t.vy
            );
            assert!((t.x - 20.0).abs() < 0.5, "seed {seed}: x = {}", t.x);
            assert!(t.pos_sigma_m() < 0.25, "sigma = {}", t.pos_sigma_m());
            assert_eq!(t.age_us(2_000_000), 2_000_000);
        }
    }

    #[test]
    fn crossing_targets_keep_their_ids() {
        let mut tr = Tracker::new(TrackerConfig::default());
        let mut noise = Noise(42);
        // A goes east along y = 1, B goes west along y = −1; they pass at t = 2 s, 2 m apart.
        for k in 0..=40u64 {
            let t = k as f64 * 0.1;
            let a = det(
                ObstacleClass::LightVehicle,
                5.0 * t + noise.gauss(0.2),
                1.0 + noise.gauss(0.2),
            );
            let b = det(
                ObstacleClass::Person,
                20.0 - 5.0 * t + noise.gauss(0.2),
                -1.0 + noise.gauss(0.2),
            );
            // Alternate the order so that the detection index carries no identity.
            let dets = if k % 2 == 0 { [a, b] } else { [b, a] };
            tr.update(k * DT_US, &dets);
        }
        let ts = tr.tracks();
        assert_eq!(ts.len(), 2, "{ts:?}");
        assert_eq!((ts[0].id, ts[1].id), (1, 2));
        // Track 1 started from A (east-bound), track 2 from B.
        assert!(ts[0].vx > 4.0 && ts[0].y > 0.0, "{:?}", ts[0]);
        assert!(ts[1].vx < -4.0 && ts[1].y < 0.0, "{:?}", ts[1]);
        assert_eq!(ts[0].class, ObstacleClass::LightVehicle);
        assert_eq!(ts[1].class, ObstacleClass::Person);
    }

    #[test]
    fn vanished_target_is_deleted_after_the_timeout() {
        let cfg = TrackerConfig::default();
        let mut tr = Tracker::new(cfg);
        for k in 0..10u64 {
            tr.update(k * DT_US, &[det(ObstacleClass::Rock, 30.0, 4.0)]);
        }
        assert_eq!(tr.confirmed().count(), 1);
        let last = 9 * DT_US;
        tr.update(last + cfg.max_coast_us, &[]);
        assert_eq!(tr.tracks().len(), 1, "kept up to the timeout");
        tr.update(last + cfg.max_coast_us + 1, &[]);
        assert!(tr.tracks().is_empty());
    }

    #[test]
    fn single_spurious_detection_never_confirms() {
        let mut tr = Tracker::new(TrackerConfig::default());
        tr.update(0, &[det(ObstacleClass::Person, 12.0, 3.0)]);
        assert_eq!(tr.tracks().len(), 1);
        for k in 1..20u64 {
            tr.update(k * DT_US, &[]);
            assert_eq!(tr.confirmed().count(), 0);
        }
        assert!(tr.tracks().is_empty());
    }

    #[test]
    fn stationary_rock_stays_still() {
        // Lidar centroid noise on a rock, 0.1 m per axis, over several seeds.
        for seed in 1..=8u64 {
            let mut tr = Tracker::new(TrackerConfig::default());
            let mut noise = Noise(seed);
            for k in 0..80u64 {
                let d = det(
                    ObstacleClass::Rock,
                    -40.0 + noise.gauss(0.1),
                    120.0 + noise.gauss(0.1),
                );
                tr.update(k * DT_US, &[d]);
                if k >= 20 {
                    let t = &tr.tracks()[0];
                    assert!(t.speed() < 0.2, "seed {seed}, k = {k}: |v| = {}", t.speed());
                }
            }
            assert_eq!(tr.tracks().len(), 1);
        }
    }

    #[test]
    fn nan_and_weak_detections_are_ignored() {
        let mut tr = Tracker::new(TrackerConfig::default());
        let mut bad = det(ObstacleClass::Rock, f64::NAN, 1.0);
        tr.update(0, &[bad]);
        bad.x = 1.0;
        bad.length = f64::INFINITY;
        tr.update(1, &[bad]);
        bad.length = 1.0;
        bad.confidence = f32::NAN;
        tr.update(2, &[bad]);
        bad.confidence = 0.1;
        tr.update(3, &[bad]);
        assert!(tr.tracks().is_empty());
    }

    #[test]
    fn far_detection_starts_a_new_track() {
        let mut tr = Tracker::new(TrackerConfig::default());
        tr.update(0, &[det(ObstacleClass::Rock, 0.0, 0.0)]);
        tr.update(DT_US, &[det(ObstacleClass::Rock, 10.0, 0.0)]);
        let ids: Vec<u32> = tr.tracks().iter().map(|t| t.id).collect();
        assert_eq!(ids, [1, 2]);
        assert!(tr.tracks().iter().all(|t| t.hits == 1));
    }
}
