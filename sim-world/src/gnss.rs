//! GNSS in the pit: how much of the sky the terrain hides at a point ([`SkyView`]), what fix
//! a receiver gets there ([`FixQuality::at`]), and one truck's receiver ([`GnssReceiver`]:
//! noise, multipath outliers, outages, all seeded).
//!
//! # Sky view
//!
//! From an antenna [`ANTENNA_HEIGHT_M`] above the ground, the terrain horizon is found in
//! [`AZIMUTHS`] directions (every 10°) by marching over the heightfield out to
//! [`HORIZON_RANGE_M`]. The *blocked fraction* `b` is the share of directions whose horizon
//! stands above the [`MASK_DEG`] elevation mask (15°): satellites lower than the mask are
//! not tracked anyway, so a wall below it costs nothing, a wall above it hides a slice of the
//! constellation and reflects signals into the antenna. `b` is computed lazily on a grid of
//! [`SKY_CELL_M`] nodes (each node once per run, a pure function of the terrain, so the
//! order trucks visit them in does not matter) and interpolated bilinearly.
//!
//! # From the sky to the fix (typ. figures, not a receiver's specification)
//!
//! | blocked `b` | fix | reported 1-sigma per axis | dual-antenna heading | multipath | outages |
//! |---|---|---|---|---|---|
//! | `b ≤ 0.25` | RTK fixed | `open` (the run's `gnss_noise_m`, 2 cm) | 0.2° | 0.002 /s | none |
//! | `0.25 < b ≤ 0.5` | RTK float | `open` → 0.15 m, linear in `b` | 0.2° → 1° | 0.002 → 0.03 /s | none |
//! | `0.5 < b ≤ 0.75` | DGPS | 0.15 → 0.8 m | none | 0.03 → 0.1 /s | start 0 → 0.02 /s, mean 3 s |
//! | `b > 0.75` | mostly no fix | 0.8 → 2 m | none | 0.1 → 0.2 /s | start 0.02 → 0.1 /s, mean 3 → 8 s |
//!
//! A multipath event lasts 0.2–1.0 s and shifts the position by 3–12 m in a random direction
//! (and the heading by up to ±10°), while the receiver keeps reporting its nominal sigma:
//! only the filter's innovation gate can tell. An outage lasts an exponential time of the
//! mean above; no fix at all comes while it lasts. The noise itself is white per fix (10 Hz).
//!
//! Draws come from [`Stream::TruckSensors`] with distinct indices per truck
//! (`truck | k << 32`): `k = 0` the fix noise, `k = 1` the IMU, `k = 2` the odometry, `k = 3`
//! multipath and outage events, so that no sensor's draws shift another's.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use site::seed::Stream;
use site::terrain::Heightfield;

/// Antenna height above the ground, m (on the canopy of an ultra-class truck).
pub const ANTENNA_HEIGHT_M: f64 = 6.0;
/// Elevation mask, degrees: a horizon above it blocks satellites.
pub const MASK_DEG: f64 = 15.0;
/// Directions the horizon is found in.
pub const AZIMUTHS: usize = 36;
/// How far the horizon march looks, m.
pub const HORIZON_RANGE_M: f64 = 1500.0;
/// Spacing of the sky-view grid, m.
pub const SKY_CELL_M: f64 = 10.0;

/// The sky-view grid over a site's terrain, filled lazily.
#[derive(Clone, Debug)]
pub struct SkyView {
    origin: [f64; 2],
    nx: usize,
    ny: usize,
    /// Blocked fraction per node; NaN until computed.
    blocked: Vec<f32>,
    computed: usize,
}

impl SkyView {
    /// An empty grid covering `terrain`.
    pub fn new(terrain: &Heightfield) -> SkyView {
        let nx = (terrain.width() / SKY_CELL_M).ceil() as usize + 1;
        let ny = (terrain.depth() / SKY_CELL_M).ceil() as usize + 1;
        SkyView {
            origin: terrain.origin,
            nx,
            ny,
            blocked: vec![f32::NAN; nx * ny],
            computed: 0,
        }
    }

    /// Nodes computed so far.
    pub fn computed_nodes(&self) -> usize {
        self.computed
    }

    /// Blocked fraction at `(x, y)`, 0..1, bilinear between grid nodes (clamped to the grid).
    pub fn blocked_fraction(&mut self, terrain: &Heightfield, x: f64, y: f64) -> f64 {
        if !(x.is_finite() && y.is_finite()) {
            return 0.0;
        }
        let fx = ((x - self.origin[0]) / SKY_CELL_M).clamp(0.0, (self.nx - 1) as f64);
        let fy = ((y - self.origin[1]) / SKY_CELL_M).clamp(0.0, (self.ny - 1) as f64);
        let ix = (fx.floor() as usize).min(self.nx.saturating_sub(2));
        let iy = (fy.floor() as usize).min(self.ny.saturating_sub(2));
        let (tx, ty) = (fx - ix as f64, fy - iy as f64);
        let b00 = self.node(terrain, ix, iy);
        let b10 = self.node(terrain, ix + 1, iy);
        let b01 = self.node(terrain, ix, iy + 1);
        let b11 = self.node(terrain, ix + 1, iy + 1);
        let a = b00 + (b10 - b00) * tx;
        let b = b01 + (b11 - b01) * tx;
        (a + (b - a) * ty).clamp(0.0, 1.0)
    }

    fn node(&mut self, terrain: &Heightfield, ix: usize, iy: usize) -> f64 {
        let ix = ix.min(self.nx - 1);
        let iy = iy.min(self.ny - 1);
        let k = iy * self.nx + ix;
        let v = self.blocked[k];
        if !v.is_nan() {
            return v as f64;
        }
        let x = self.origin[0] + ix as f64 * SKY_CELL_M;
        let y = self.origin[1] + iy as f64 * SKY_CELL_M;
        let b = blocked_fraction_at(terrain, x, y);
        self.blocked[k] = b as f32;
        self.computed += 1;
        b
    }
}

/// The terrain horizon's elevation, degrees, seen from `ANTENNA_HEIGHT_M` above `(x, y)`
/// towards bearing `az` (radians from east, counter-clockwise).
pub fn horizon_deg(terrain: &Heightfield, x: f64, y: f64, az: f64) -> f64 {
    let z0 = terrain.height_at(x, y) + ANTENNA_HEIGHT_M;
    let (s, c) = az.sin_cos();
    let mut best = f64::NEG_INFINITY;
    let mut d = terrain.cell.max(1.0);
    while d <= HORIZON_RANGE_M {
        let (px, py) = (x + c * d, y + s * d);
        if !terrain.contains(px, py) {
            break;
        }
        best = best.max((terrain.height_at(px, py) - z0) / d);
        // finer near the antenna, where a bench face is a few metres away
        d += (0.5 * terrain.cell).max(0.02 * d);
    }
    if best.is_finite() {
        best.atan().to_degrees()
    } else {
        0.0
    }
}

/// The share of [`AZIMUTHS`] directions whose horizon stands above [`MASK_DEG`] at `(x, y)`.
pub fn blocked_fraction_at(terrain: &Heightfield, x: f64, y: f64) -> f64 {
    let blocked = (0..AZIMUTHS)
        .filter(|i| {
            let az = *i as f64 * std::f64::consts::TAU / AZIMUTHS as f64;
            horizon_deg(terrain, x, y, az) > MASK_DEG
        })
        .count();
    blocked as f64 / AZIMUTHS as f64
}

/// The kind of fix, for counting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FixKind {
    RtkFixed,
    RtkFloat,
    Dgps,
    /// The sky is mostly blocked: DGPS at best, outages common.
    Poor,
}

/// What a receiver gets under a sky with blocked fraction `b` (the table in the module docs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FixQuality {
    pub kind: FixKind,
    /// 1-sigma horizontal noise per axis, m (also what the receiver reports).
    pub sigma_m: f64,
    /// 1-sigma of the dual-antenna heading, rad; `None`: no heading solution.
    pub heading_sigma_rad: Option<f64>,
    /// Rate of multipath events, per second.
    pub multipath_per_s: f64,
    /// Rate at which outages start, per second.
    pub outage_per_s: f64,
    /// Mean outage length, s.
    pub outage_mean_s: f64,
}

fn lerp(a: f64, b: f64, t: f64) -> f64 {
    a + (b - a) * t.clamp(0.0, 1.0)
}

impl FixQuality {
    /// The fix under blocked fraction `b`, with `open_sigma_m` the RTK figure in open sky.
    pub fn at(b: f64, open_sigma_m: f64) -> FixQuality {
        let b = if b.is_finite() {
            b.clamp(0.0, 1.0)
        } else {
            1.0
        };
        let open = if open_sigma_m.is_finite() {
            open_sigma_m.max(0.0)
        } else {
            0.02
        };
        let deg = |d: f64| d.to_radians();
        if b <= 0.25 {
            FixQuality {
                kind: FixKind::RtkFixed,
                sigma_m: open,
                heading_sigma_rad: Some(deg(0.2)),
                multipath_per_s: 0.002,
                outage_per_s: 0.0,
                outage_mean_s: 0.0,
            }
        } else if b <= 0.5 {
            let t = (b - 0.25) / 0.25;
            FixQuality {
                kind: FixKind::RtkFloat,
                sigma_m: lerp(open, 0.15_f64.max(open), t),
                heading_sigma_rad: Some(deg(lerp(0.2, 1.0, t))),
                multipath_per_s: lerp(0.002, 0.03, t),
                outage_per_s: 0.0,
                outage_mean_s: 0.0,
            }
        } else if b <= 0.75 {
            let t = (b - 0.5) / 0.25;
            FixQuality {
                kind: FixKind::Dgps,
                sigma_m: lerp(0.15_f64.max(open), 0.8_f64.max(open), t),
                heading_sigma_rad: None,
                multipath_per_s: lerp(0.03, 0.1, t),
                outage_per_s: lerp(0.0, 0.02, t),
                outage_mean_s: 3.0,
            }
        } else {
            let t = (b - 0.75) / 0.25;
            FixQuality {
                kind: FixKind::Poor,
                sigma_m: lerp(0.8_f64.max(open), 2.0_f64.max(open), t),
                heading_sigma_rad: None,
                multipath_per_s: lerp(0.1, 0.2, t),
                outage_per_s: lerp(0.02, 0.1, t),
                outage_mean_s: lerp(3.0, 8.0, t),
            }
        }
    }
}

/// A fix as the receiver outputs it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReceiverFix {
    pub fix: vehicle::localise::GnssFix,
    /// A multipath event corrupts this fix (ground truth, for the report).
    pub multipath: bool,
}

/// One truck's GNSS receiver: noise, multipath events and outages.
#[derive(Clone, Debug)]
pub struct GnssReceiver {
    noise: ChaCha8Rng,
    events: ChaCha8Rng,
    /// Epochs left in the current outage.
    outage_left: u32,
    /// Epochs left in the current multipath event, and its offset (m, m, rad).
    multipath_left: u32,
    offset: [f64; 3],
}

/// The receiver's output rate, Hz.
pub const GNSS_HZ: f64 = 10.0;

impl GnssReceiver {
    /// Truck `truck`'s receiver in a run seeded with `seed`.
    pub fn new(seed: u64, truck: u32) -> GnssReceiver {
        let t = u64::from(truck);
        GnssReceiver {
            noise: site::seed::rng(seed, Stream::TruckSensors, t),
            events: site::seed::rng(seed, Stream::TruckSensors, t | 3 << 32),
            outage_left: 0,
            multipath_left: 0,
            offset: [0.0; 3],
        }
    }

    /// One epoch (1 / [`GNSS_HZ`] s) at true position `pos` and heading `heading` under
    /// `q`: a fix, or `None` in an outage.
    pub fn epoch(&mut self, pos: [f64; 2], heading: f64, q: &FixQuality) -> Option<ReceiverFix> {
        let dt = 1.0 / GNSS_HZ;
        // the events draw the same number of times every epoch, whatever happens
        let u_out = self.events.random_range(0.0..1.0);
        let u_len: f64 = self.events.random_range(1e-12..1.0);
        let u_mp = self.events.random_range(0.0..1.0);
        let u_mp_len = self.events.random_range(0.0..1.0);
        let u_mp_mag = self.events.random_range(0.0..1.0);
        let u_mp_dir = self.events.random_range(0.0..1.0);
        let u_mp_hdg = self.events.random_range(-1.0..1.0);
        let nx = normal(&mut self.noise);
        let ny = normal(&mut self.noise);
        let nh = normal(&mut self.noise);
        if self.outage_left == 0 && u_out < q.outage_per_s * dt {
            let len_s = -q.outage_mean_s * u_len.ln();
            self.outage_left = (len_s * GNSS_HZ).round().max(1.0) as u32;
        }
        if self.outage_left > 0 {
            self.outage_left -= 1;
            return None;
        }
        if self.multipath_left == 0 && u_mp < q.multipath_per_s * dt {
            self.multipath_left = (lerp(0.2, 1.0, u_mp_len) * GNSS_HZ).round().max(1.0) as u32;
            let mag = lerp(3.0, 12.0, u_mp_mag);
            let dir = std::f64::consts::TAU * u_mp_dir;
            self.offset = [
                mag * dir.cos(),
                mag * dir.sin(),
                10_f64.to_radians() * u_mp_hdg,
            ];
        }
        let multipath = self.multipath_left > 0;
        let off = if multipath {
            self.multipath_left -= 1;
            self.offset
        } else {
            [0.0; 3]
        };
        let fix = vehicle::localise::GnssFix {
            pos: [
                pos[0] + q.sigma_m * nx + off[0],
                pos[1] + q.sigma_m * ny + off[1],
            ],
            sigma_m: q.sigma_m,
            heading: q
                .heading_sigma_rad
                .map(|s| (site::road::wrap_angle(heading + s * nh + off[2]), s)),
        };
        Some(ReceiverFix { fix, multipath })
    }
}

/// A standard normal draw (Box–Muller) from a seeded generator.
pub(crate) fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random_range(1e-12..1.0);
    let u2: f64 = rng.random_range(0.0..1.0);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mapping_degrades_monotonically() {
        let mut last = FixQuality::at(0.0, 0.02);
        assert_eq!(last.kind, FixKind::RtkFixed);
        assert_eq!(last.outage_per_s, 0.0);
        for i in 1..=100 {
            let q = FixQuality::at(i as f64 / 100.0, 0.02);
            assert!(q.sigma_m >= last.sigma_m);
            assert!(q.multipath_per_s >= last.multipath_per_s);
            assert!(q.outage_per_s >= last.outage_per_s);
            assert!(q.kind >= last.kind);
            last = q;
        }
        assert_eq!(last.kind, FixKind::Poor);
        assert!((last.sigma_m - 2.0).abs() < 1e-12);
        assert_eq!(FixQuality::at(f64::NAN, 0.02).kind, FixKind::Poor);
    }

    #[test]
    fn a_flat_plain_sees_the_whole_sky_and_a_trench_does_not() {
        let flat = Heightfield {
            origin: [-500.0, -500.0],
            cell: 10.0,
            nx: 101,
            ny: 101,
            heights: vec![0.0; 101 * 101],
        };
        assert_eq!(blocked_fraction_at(&flat, 0.0, 0.0), 0.0);
        // a trench 40 m deep and 20 m wide along x: walls on both sides
        let mut trench = flat.clone();
        for iy in 0..101 {
            for ix in 0..101 {
                let y = -500.0 + iy as f64 * 10.0;
                trench.heights[iy * 101 + ix] = if y.abs() <= 10.0 { -40.0 } else { 0.0 };
            }
        }
        let b = blocked_fraction_at(&trench, 0.0, 0.0);
        assert!(b > 0.5, "blocked {b}");
        let mut sky = SkyView::new(&trench);
        assert!((sky.blocked_fraction(&trench, 0.0, 0.0) - b).abs() < 1e-6);
        assert!(sky.computed_nodes() >= 1);
    }

    #[test]
    fn outages_and_multipath_follow_the_quality() {
        let mut rx = GnssReceiver::new(1, 0);
        let open = FixQuality::at(0.0, 0.02);
        let fixes = (0..1000)
            .filter_map(|_| rx.epoch([0.0, 0.0], 0.0, &open))
            .count();
        assert_eq!(fixes, 1000);
        let poor = FixQuality::at(1.0, 0.02);
        let mut none = 0;
        let mut mp = 0;
        for _ in 0..20_000 {
            match rx.epoch([0.0, 0.0], 0.0, &poor) {
                None => none += 1,
                Some(f) if f.multipath => mp += 1,
                Some(_) => {}
            }
        }
        // starts at 0.1/s of mean 8 s: about 44% of the time without a fix
        assert!((6000..12000).contains(&none), "{none} epochs without a fix");
        assert!(mp > 500, "{mp} multipath epochs");
    }
}
