//! One simulated truck: its autonomy ([`vehicle::Truck`]), its rigid body, what it carries,
//! its sensors and its counters.
//!
//! Sensors: a GNSS receiver whose fix degrades under the pit walls ([`crate::gnss`]), an IMU
//! (yaw rate with a turn-on bias of 0.05°/s 1-sigma and 0.005 rad/s white noise per 50 Hz
//! sample; gravity-free longitudinal acceleration with 0.05 m/s² noise; pitch) and wheel
//! odometry (scale off by 1% 1-sigma, 0.05 m/s noise). The truck's
//! [`vehicle::localise::Localiser`] fuses them every control step; the truck drives on its
//! estimate while the physics keeps the true pose.

use crate::gnss::{normal, FixKind, FixQuality, GnssReceiver, SkyView, GNSS_HZ};
use crate::physics::BodyState;
use rand_chacha::ChaCha8Rng;
use site::ids::TruckId;
use site::protocol::{DownMsg, MissionState};
use site::seed::Stream;
use site::terrain::Heightfield;
use site::SimTime;
use vehicle::localise::{FixOutcome, ImuSample, Localiser, LocaliserConfig};
use vehicle::{Actuation, Sensed, Truck};

/// Counters kept per truck.
#[derive(Clone, Debug, Default)]
pub struct TruckMetrics {
    pub loads: u64,
    pub dumps: u64,
    pub tonnes: f64,
    pub distance_m: f64,
    /// Time in each mission state, µs, indexed by [`state_index`] (read it with
    /// [`TruckMetrics::time_in_us`]).
    pub state_us: [u64; MissionState::ALL.len()],
    pub last_dump: Option<SimTime>,
    pub cycle_s: Vec<f64>,
    /// Entries past the granted road, counted by the [`crate::safety::SafetyMonitor`].
    pub violations: u64,
    pub localisation: LocalisationMetrics,
}

/// Localisation counters of one truck, sampled every control step.
#[derive(Clone, Debug)]
pub struct LocalisationMetrics {
    /// Horizontal error of the estimate the truck drove on, µm (1 µm to 1 km; larger
    /// errors count as 1 km).
    pub error_um: hdrhistogram::Histogram<u64>,
    pub error_sum_m: f64,
    pub error_max_m: f64,
    pub samples: u64,
    /// Fix epochs with no fix (outages), and the longest run of them.
    pub no_fix_epochs: u64,
    pub longest_no_fix_epochs: u64,
    no_fix_run: u64,
    pub fixes: u64,
    pub rejected: u64,
    /// Fixes a multipath event corrupted (ground truth), and those of them the gate let in.
    pub multipath: u64,
    pub multipath_accepted: u64,
    pub resets: u64,
    pub sigma_max_m: f64,
    /// Control steps with `pos_sigma_m` above 0.5 m and above 2 m.
    pub steps_sigma_over_0_5: u64,
    pub steps_sigma_over_2: u64,
    /// Fix epochs by [`FixKind`] (in its order).
    pub epochs_by_kind: [u64; 4],
    /// The error against the EKF's own sigma: every control step, those under an open sky
    /// (RTK fixed) and those under the walls (DGPS or worse: more than half the sky hidden).
    pub consistency: ConsistencyMetrics,
    pub open_sky: ConsistencyMetrics,
    pub under_walls: ConsistencyMetrics,
}

/// The horizontal error of the estimate against the truth, and against the EKF's reported
/// 1-sigma (`pos_sigma_m`, the semi-major axis), over a set of control steps.
#[derive(Clone, Debug)]
pub struct ConsistencyMetrics {
    /// Error, µm (1 µm to 1 km; larger errors count as 1 km).
    pub error_um: hdrhistogram::Histogram<u64>,
    /// Error over sigma, thousandths (up to 10⁶, i.e. 1000 sigma).
    pub ratio_milli: hdrhistogram::Histogram<u64>,
    /// Steps with the error above 3 sigma.
    pub over_3_sigma: u64,
    pub samples: u64,
    pub max_error_m: f64,
}

impl Default for ConsistencyMetrics {
    fn default() -> Self {
        ConsistencyMetrics {
            error_um: hdrhistogram::Histogram::new_with_bounds(1, 1_000_000_000, 3)
                .expect("1 µm to 1 km at three significant digits is within hdrhistogram's range"),
            ratio_milli: hdrhistogram::Histogram::new_with_bounds(1, 1_000_000, 3)
                .expect("1 to 10⁶ at three significant digits is within hdrhistogram's range"),
            over_3_sigma: 0,
            samples: 0,
            max_error_m: 0.0,
        }
    }
}

impl ConsistencyMetrics {
    /// One step with horizontal error `err` and reported 1-sigma `sigma`, m.
    pub fn record(&mut self, err: f64, sigma: f64) {
        if !(err.is_finite() && sigma.is_finite()) {
            return;
        }
        let ratio = err / sigma.max(1e-6);
        self.error_um.saturating_record((err * 1e6).round() as u64);
        self.ratio_milli
            .saturating_record((ratio * 1e3).round() as u64);
        self.over_3_sigma += u64::from(ratio > 3.0);
        self.samples += 1;
        self.max_error_m = self.max_error_m.max(err);
    }

    /// Adds `o`'s samples.
    pub fn add(&mut self, o: &ConsistencyMetrics) {
        // both histograms auto-resize, so adding never runs out of range
        let _ = self.error_um.add(&o.error_um);
        let _ = self.ratio_milli.add(&o.ratio_milli);
        self.over_3_sigma += o.over_3_sigma;
        self.samples += o.samples;
        self.max_error_m = self.max_error_m.max(o.max_error_m);
    }
}

impl Default for LocalisationMetrics {
    fn default() -> Self {
        LocalisationMetrics {
            error_um: hdrhistogram::Histogram::new_with_bounds(1, 1_000_000_000, 3)
                .expect("1 µm to 1 km at three significant digits is within hdrhistogram's range"),
            error_sum_m: 0.0,
            error_max_m: 0.0,
            samples: 0,
            no_fix_epochs: 0,
            longest_no_fix_epochs: 0,
            no_fix_run: 0,
            fixes: 0,
            rejected: 0,
            multipath: 0,
            multipath_accepted: 0,
            resets: 0,
            sigma_max_m: 0.0,
            steps_sigma_over_0_5: 0,
            steps_sigma_over_2: 0,
            epochs_by_kind: [0; 4],
            consistency: ConsistencyMetrics::default(),
            open_sky: ConsistencyMetrics::default(),
            under_walls: ConsistencyMetrics::default(),
        }
    }
}

/// Where `k` is counted in [`LocalisationMetrics::epochs_by_kind`].
pub const fn kind_index(k: FixKind) -> usize {
    match k {
        FixKind::RtkFixed => 0,
        FixKind::RtkFloat => 1,
        FixKind::Dgps => 2,
        FixKind::Poor => 3,
    }
}

/// The names of [`FixKind`]s in the report, in [`kind_index`] order.
pub const FIX_KIND_NAMES: [&str; 4] = ["rtk_fixed", "rtk_float", "dgps", "poor"];

impl TruckMetrics {
    /// Time spent in state `s`, µs.
    pub fn time_in_us(&self, s: MissionState) -> u64 {
        self.state_us[state_index(s)]
    }
}

/// Where state `s` is counted in [`TruckMetrics::state_us`]: its place in
/// [`MissionState::ALL`]. Exhaustive, so a new state does not compile until it has a slot.
pub const fn state_index(s: MissionState) -> usize {
    match s {
        MissionState::Idle => 0,
        MissionState::ToLoader => 1,
        MissionState::QueueLoader => 2,
        MissionState::Spotting => 3,
        MissionState::Loading => 4,
        MissionState::Hauling => 5,
        MissionState::QueueDump => 6,
        MissionState::Dumping => 7,
        MissionState::ToParking => 8,
        MissionState::Parked => 9,
        MissionState::Stopped => 10,
        MissionState::Faulted => 11,
    }
}

/// One simulated truck: its autonomy, its body and what it carries.
pub struct TruckSim {
    pub id: TruckId,
    pub brain: Truck,
    pub body: usize,
    pub payload_t: f64,
    pub loader_done: bool,
    /// The load being tipped, t (0 when not tipping).
    pub(crate) load_t: f64,
    /// The GNSS receiver ([`Stream::TruckSensors`] indices `id` and `id | 3 << 32`).
    gnss: GnssReceiver,
    /// IMU and odometry draws ([`Stream::TruckSensors`] `id | 1 << 32`, `id | 2 << 32`).
    imu_rng: ChaCha8Rng,
    odo_rng: ChaCha8Rng,
    /// The IMU's yaw-rate bias, rad/s, and the odometry's scale (truth).
    gyro_bias: f64,
    odo_scale: f64,
    /// The truck's EKF, started at its first control step from its surveyed start pose.
    localiser: Option<Localiser>,
    /// True heading and speed at the previous control step (what the IMU differentiates).
    prev: Option<(f64, f64)>,
    /// Index of the last GNSS epoch (`now / 100 ms`).
    last_epoch: Option<u64>,
    /// Blocked sky fraction at the last fix epoch ([`crate::gnss`]).
    pub sky_blocked: f64,
    pub act: Actuation,
    /// Messages delivered since its last control step.
    pub(crate) inbox: Vec<DownMsg>,
    pub metrics: TruckMetrics,
}

impl TruckSim {
    /// Truck `id` of a run seeded with `seed`, empty, on rigid body `body`; its sensor noise
    /// draws from [`Stream::TruckSensors`] with indices `id | k << 32` (see [`crate::gnss`]).
    pub(crate) fn new(id: TruckId, brain: Truck, body: usize, seed: u64) -> TruckSim {
        let t = u64::from(id.0);
        let mut imu_rng = site::seed::rng(seed, Stream::TruckSensors, t | 1 << 32);
        let mut odo_rng = site::seed::rng(seed, Stream::TruckSensors, t | 2 << 32);
        let gyro_bias = 0.05_f64.to_radians() * normal(&mut imu_rng);
        let odo_scale = 1.0 + 0.01 * normal(&mut odo_rng);
        TruckSim {
            id,
            brain,
            body,
            payload_t: 0.0,
            loader_done: false,
            load_t: 0.0,
            gnss: GnssReceiver::new(seed, id.0),
            imu_rng,
            odo_rng,
            gyro_bias,
            odo_scale,
            localiser: None,
            prev: None,
            last_epoch: None,
            sky_blocked: 0.0,
            act: Actuation::default(),
            inbox: Vec::new(),
            metrics: TruckMetrics::default(),
        }
    }

    /// The truck's EKF (after its first control step).
    pub fn localiser(&self) -> Option<&Localiser> {
        self.localiser.as_ref()
    }

    /// One control step of the truck's sensors and its EKF over the true body state `st`
    /// (`dt` seconds after the last): IMU and odometry every step, a GNSS epoch every
    /// 1 / [`GNSS_HZ`] s under the sky at the true position; returns what the truck drives
    /// on: the estimated position (height from the terrain map), heading and speed, with
    /// `pos_sigma_m`. `open_sigma_m` is the RTK noise in open sky.
    pub(crate) fn sense(
        &mut self,
        now: SimTime,
        st: &BodyState,
        dt: f64,
        sky: &mut SkyView,
        terrain: &Heightfield,
        open_sigma_m: f64,
    ) -> Sensed {
        let cfg = LocaliserConfig::default();
        let loc = match (&mut self.localiser, self.prev) {
            (Some(loc), Some((h0, v0))) => {
                let imu = ImuSample {
                    yaw_rate: site::road::wrap_angle(st.heading - h0) / dt
                        + self.gyro_bias
                        + cfg.gyro_noise_rad_s * normal(&mut self.imu_rng),
                    accel: (st.speed - v0) / dt + cfg.accel_noise_m_s2 * normal(&mut self.imu_rng),
                    pitch: st.forward[2].clamp(-1.0, 1.0).asin(),
                };
                loc.predict(dt, imu);
                let odo = self.odo_scale * st.speed + cfg.odo_noise_m_s * normal(&mut self.odo_rng);
                loc.update_odometry(odo);
                loc
            }
            // The first step: the surveyed start slot, known to 10 cm.
            (slot, _) => slot.insert(Localiser::new(cfg, [st.pos[0], st.pos[1]], st.heading, 0.1)),
        };
        self.prev = Some((st.heading, st.speed));
        let m = &mut self.metrics.localisation;
        let epoch = now.0 / (1e6 / GNSS_HZ) as u64;
        if self.last_epoch != Some(epoch) {
            self.last_epoch = Some(epoch);
            self.sky_blocked = sky.blocked_fraction(terrain, st.pos[0], st.pos[1]);
            let q = FixQuality::at(self.sky_blocked, open_sigma_m);
            m.epochs_by_kind[kind_index(q.kind)] += 1;
            match self.gnss.epoch([st.pos[0], st.pos[1]], st.heading, &q) {
                Some(rf) => {
                    m.no_fix_run = 0;
                    m.fixes += 1;
                    m.multipath += u64::from(rf.multipath);
                    match loc.update_gnss(&rf.fix) {
                        FixOutcome::Accepted { .. } => {
                            m.multipath_accepted += u64::from(rf.multipath);
                        }
                        FixOutcome::Rejected { .. } => m.rejected += 1,
                        FixOutcome::Reset => {
                            m.rejected += 1;
                            m.resets += 1;
                        }
                        FixOutcome::Ignored => {}
                    }
                }
                None => {
                    m.no_fix_epochs += 1;
                    m.no_fix_run += 1;
                    m.longest_no_fix_epochs = m.longest_no_fix_epochs.max(m.no_fix_run);
                }
            }
        }
        let e = loc.estimate();
        let sigma = loc.pos_sigma_m();
        let err = (e.pos[0] - st.pos[0]).hypot(e.pos[1] - st.pos[1]);
        if err.is_finite() {
            m.error_um.saturating_record((err * 1e6).round() as u64);
            m.error_sum_m += err;
            m.error_max_m = m.error_max_m.max(err);
            m.samples += 1;
        }
        m.consistency.record(err, sigma);
        match FixQuality::at(self.sky_blocked, open_sigma_m).kind {
            FixKind::RtkFixed => m.open_sky.record(err, sigma),
            FixKind::RtkFloat => {}
            FixKind::Dgps | FixKind::Poor => m.under_walls.record(err, sigma),
        }
        m.sigma_max_m = m.sigma_max_m.max(sigma);
        m.steps_sigma_over_0_5 += u64::from(sigma > 0.5);
        m.steps_sigma_over_2 += u64::from(sigma > 2.0);
        Sensed {
            pos: [e.pos[0], e.pos[1], terrain.height_at(e.pos[0], e.pos[1])],
            heading: e.heading,
            speed: e.speed,
            payload_t: self.payload_t,
            loader_done: self.loader_done,
            pos_sigma_m: sigma,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_index_is_the_place_in_all() {
        for (i, s) in MissionState::ALL.iter().enumerate() {
            assert_eq!(state_index(*s), i, "{s:?}");
        }
    }
}
