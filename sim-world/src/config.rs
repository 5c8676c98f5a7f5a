//! What a run simulates: the world's configuration and the choice of transport. Plain data;
//! [`crate::net`] builds the transport from it and [`crate::world`] the world.

use fleet::DispatcherConfig;
use site::SimDuration;
use vehicle::TruckParams;

/// What to simulate.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub trucks: usize,
    pub seed: u64,
    pub duration: SimDuration,
    pub physics_hz: f64,
    pub dispatch_period: SimDuration,
    pub link_latency: SimDuration,
    pub truck: TruckParams,
    /// Standard deviation of GNSS position noise in open sky (RTK fixed), m; the fix
    /// degrades from there under the pit walls ([`crate::gnss`]).
    pub gnss_noise_m: f64,
    /// Time to tip a full body at the dump, s.
    pub tip_s: f64,
    pub dispatcher: DispatcherConfig,
    /// Which transport carries the messages.
    pub network: NetworkChoice,
    /// Obstacles placed in the world (they appear at their time).
    pub obstacles: Vec<perception::ObstacleSpec>,
    /// Perception on every truck (lidar, detector on the truck's NPU, tracker), or none.
    pub perception: Option<PerceptionSetup>,
    /// The planning model on every truck's NPU (needs perception), or none.
    pub planning: Option<PlanningSetup>,
    /// Manned vehicles on the roads ([`crate::traffic`]); none by default.
    pub traffic: TrafficConfig,
}

/// Manned traffic of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct TrafficConfig {
    pub light_vehicles: usize,
    pub water_carts: usize,
    /// How often a fleet tablet reports.
    pub report_period: SimDuration,
    /// How long a driver stays at a destination, s (uniform between the two).
    pub dwell_s: (f64, f64),
}

impl Default for TrafficConfig {
    fn default() -> Self {
        TrafficConfig {
            light_vehicles: 0,
            water_carts: 0,
            report_period: SimDuration::from_secs(1),
            dwell_s: (10.0, 30.0),
        }
    }
}

impl TrafficConfig {
    pub fn vehicles(&self) -> usize {
        self.light_vehicles + self.water_carts
    }
}

/// How planning runs.
#[derive(Clone, Debug)]
pub struct PlanningConfig {
    /// Time between a truck's plans, µs (10 Hz).
    pub period_us: u64,
    /// Keep every plan's device span for the NPU trace.
    pub trace: bool,
}

impl Default for PlanningConfig {
    fn default() -> Self {
        PlanningConfig {
            period_us: 100_000,
            trace: false,
        }
    }
}

/// Planning of a run: how often and the compiled planner.
#[derive(Clone, Debug)]
pub struct PlanningSetup {
    pub cfg: PlanningConfig,
    pub planner: std::sync::Arc<vehicle::Planner>,
}

/// Perception of a run: how it senses and the compiled detector.
#[derive(Clone, Debug)]
pub struct PerceptionSetup {
    pub cfg: PerceptionConfig,
    pub detector: std::sync::Arc<perception::detector::Detector>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            trucks: 100,
            seed: 1,
            duration: SimDuration::from_secs(3600),
            physics_hz: 50.0,
            dispatch_period: SimDuration::from_millis(100),
            link_latency: SimDuration::from_millis(5),
            truck: TruckParams::default(),
            gnss_noise_m: 0.02,
            tip_s: 25.0,
            planning: None,
            dispatcher: DispatcherConfig::default(),
            network: NetworkChoice::InMemory,
            obstacles: Vec::new(),
            perception: None,
            traffic: TrafficConfig::default(),
        }
    }
}

/// The transport of a run.
#[derive(Clone, Debug, PartialEq)]
pub enum NetworkChoice {
    /// Fixed latency, lossless ([`SimConfig::link_latency`]).
    InMemory,
    /// Simulated QUIC over the radio model of the site (its gNBs over its terrain).
    QuicRadio,
    /// Simulated QUIC over a fixed one-way delay with independent random loss.
    QuicFixed { one_way_ms: f64, loss: f64 },
    /// Real mode: `quinn` over loopback UDP to a dispatcher server in another process,
    /// each truck's packets through a relay that applies the site's radio model (`radio`)
    /// or none. The run is paced to the wall clock and the in-process dispatcher is idle.
    Real {
        server: std::net::SocketAddr,
        pki_seed: u64,
        radio: bool,
    },
}

impl NetworkChoice {
    /// The dispatcher runs in another process.
    pub fn remote_dispatcher(&self) -> bool {
        matches!(self, NetworkChoice::Real { .. })
    }

    /// The name a report gives it.
    pub fn name(&self) -> &'static str {
        match self {
            NetworkChoice::InMemory => "memory",
            NetworkChoice::QuicRadio => "quic",
            NetworkChoice::QuicFixed { .. } => "quic_fixed",
            NetworkChoice::Real { .. } => "real",
        }
    }
}

/// How a sweep is made.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Sensing {
    /// Full-resolution ray casts into the rapier world.
    Raycast,
    /// The fleet-scale sensor model ([`perception::fleet_sensor`]).
    Fleet,
}

impl Sensing {
    pub fn name(self) -> &'static str {
        match self {
            Sensing::Raycast => "raycast",
            Sensing::Fleet => "fleet",
        }
    }
}

/// How perception runs.
#[derive(Clone, Debug)]
pub struct PerceptionConfig {
    pub sensing: Sensing,
    pub lidar: perception::LidarConfig,
    /// Dust level of the air, 0–1.
    pub dust: f64,
    pub bev: perception::BevSpec,
    pub tracker: perception::track::TrackerConfig,
    /// Record every inference for the Chrome trace (`--npu-trace`).
    pub trace: bool,
}

impl Default for PerceptionConfig {
    fn default() -> Self {
        PerceptionConfig {
            sensing: Sensing::Fleet,
            lidar: perception::LidarConfig::default(),
            dust: 0.0,
            bev: perception::BevSpec::default(),
            tracker: perception::track::TrackerConfig::default(),
            trace: false,
        }
    }
}
