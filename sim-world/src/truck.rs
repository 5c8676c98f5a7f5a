//! One simulated truck: its autonomy ([`vehicle::Truck`]), its rigid body, what it carries,
//! its sensors and its counters.

use crate::physics::BodyState;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use site::ids::TruckId;
use site::protocol::{DownMsg, MissionState};
use site::seed::Stream;
use site::SimTime;
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
}

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
    /// GNSS noise draws ([`Stream::TruckSensors`]).
    rng: ChaCha8Rng,
    pub act: Actuation,
    /// Messages delivered since its last control step.
    pub(crate) inbox: Vec<DownMsg>,
    pub metrics: TruckMetrics,
}

impl TruckSim {
    /// Truck `id` of a run seeded with `seed`, empty, on rigid body `body`; its sensor noise
    /// draws from [`Stream::TruckSensors`] `id`.
    pub(crate) fn new(id: TruckId, brain: Truck, body: usize, seed: u64) -> TruckSim {
        TruckSim {
            id,
            brain,
            body,
            payload_t: 0.0,
            loader_done: false,
            load_t: 0.0,
            rng: site::seed::rng(seed, Stream::TruckSensors, u64::from(id.0)),
            act: Actuation::default(),
            inbox: Vec::new(),
            metrics: TruckMetrics::default(),
        }
    }

    /// What the truck's sensors report of its body: GNSS position with Gaussian noise of
    /// `gnss_noise_m` standard deviation; heading, speed and payload exact.
    pub(crate) fn sense(&mut self, st: &BodyState, gnss_noise_m: f64) -> Sensed {
        let (nx, ny) = (
            normal(&mut self.rng) * gnss_noise_m,
            normal(&mut self.rng) * gnss_noise_m,
        );
        Sensed {
            pos: [st.pos[0] + nx, st.pos[1] + ny, st.pos[2]],
            heading: st.heading,
            speed: st.speed,
            payload_t: self.payload_t,
            loader_done: self.loader_done,
        }
    }
}

/// A standard normal draw (Box–Muller) from a seeded generator.
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random_range(1e-12..1.0);
    let u2: f64 = rng.random_range(0.0..1.0);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
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
