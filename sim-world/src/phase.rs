//! The order of work inside one step of simulated time, defined once.
//!
//! [`crate::world::SimWorld::step`] runs [`Phase::ORDER`] in turn, and the Bevy
//! [`crate::app::SimPlugin`] chains one [`crate::app::SimSystems`] set per phase in the same
//! order, each running the same [`crate::world::SimWorld::run_phase`].

/// One phase of a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Sensing, every truck's autonomy, actuation; the transport is stepped and read.
    Control,
    /// One rigid-body step; the clock advances.
    Physics,
    /// Loaders fill trucks in passes; trucks tip at dumps.
    SiteWork,
    /// The dispatcher's turn (every dispatch period).
    Dispatch,
    /// The independent safety monitor and the standstill detector.
    Measure,
    /// What the world shows outside: the Bevy truck entities follow their bodies (nothing to
    /// do in the plain world).
    Sync,
}

impl Phase {
    /// Every phase, in the order a step runs them.
    pub const ORDER: [Phase; 6] = [
        Phase::Control,
        Phase::Physics,
        Phase::SiteWork,
        Phase::Dispatch,
        Phase::Measure,
        Phase::Sync,
    ];

    /// A short name, for timings and logs.
    pub const fn name(self) -> &'static str {
        match self {
            Phase::Control => "control",
            Phase::Physics => "physics",
            Phase::SiteWork => "site work",
            Phase::Dispatch => "dispatch",
            Phase::Measure => "measure",
            Phase::Sync => "sync",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_order_is_control_physics_site_work_dispatch_measure_sync() {
        for p in Phase::ORDER {
            assert_eq!(Phase::ORDER.iter().filter(|q| **q == p).count(), 1, "{p:?}");
        }
        let named: Vec<&str> = Phase::ORDER.iter().map(|p| p.name()).collect();
        assert_eq!(
            named,
            [
                "control",
                "physics",
                "site work",
                "dispatch",
                "measure",
                "sync"
            ]
        );
    }
}
