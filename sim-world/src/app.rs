//! The Bevy side: the world as a resource, one plugin, a schedule of chained systems, and a
//! truck entity per truck whose pose follows its rigid body (what a viewer draws).
//!
//! The schedule is derived from [`Phase::ORDER`]: one [`SimSystems`] set per phase, chained in
//! that order, each running [`SimWorld::run_phase`] (the same code as [`SimWorld::step`]);
//! the [`SimSystems::Sync`] set moves the truck entities.

use crate::phase::Phase;
use crate::world::SimWorld;
use bevy::app::App;
use bevy::ecs::schedule::{Schedule, ScheduleLabel, SystemSet};
use bevy::prelude::*;

/// The schedule that advances the simulation by one fixed step.
#[derive(ScheduleLabel, Clone, Debug, PartialEq, Eq, Hash)]
pub struct SimStep;

/// The order of work inside a step: one set per [`Phase`], chained in [`Phase::ORDER`].
#[derive(SystemSet, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SimSystems {
    Control,
    Physics,
    SiteWork,
    Dispatch,
    Measure,
    Sync,
}

impl From<Phase> for SimSystems {
    fn from(p: Phase) -> SimSystems {
        match p {
            Phase::Control => SimSystems::Control,
            Phase::Physics => SimSystems::Physics,
            Phase::SiteWork => SimSystems::SiteWork,
            Phase::Dispatch => SimSystems::Dispatch,
            Phase::Measure => SimSystems::Measure,
            Phase::Sync => SimSystems::Sync,
        }
    }
}

/// The simulated mine as a resource.
#[derive(Resource)]
pub struct World(pub SimWorld);

/// A truck entity.
#[derive(Component, Clone, Copy, Debug)]
pub struct TruckTag(pub u32);

/// A truck's pose in the site frame (x east, y north, z up) and its heading.
#[derive(Component, Clone, Copy, Debug, Default, PartialEq)]
pub struct TruckPose {
    pub pos: [f64; 3],
    pub heading: f64,
    pub speed: f64,
    pub payload_t: f64,
}

fn sync(w: Res<World>, mut q: Query<(&TruckTag, &mut TruckPose)>) {
    for (tag, mut pose) in &mut q {
        if let Some(t) = w.0.trucks.get(tag.0 as usize) {
            let s = w.0.physics.state(t.body);
            *pose = TruckPose {
                pos: s.pos,
                heading: s.heading,
                speed: s.speed,
                payload_t: t.payload_t,
            };
        }
    }
}

/// Adds the simulation schedule and its systems.
pub struct SimPlugin;

impl Plugin for SimPlugin {
    fn build(&self, app: &mut App) {
        let mut schedule = Schedule::new(SimStep);
        for pair in Phase::ORDER.windows(2) {
            schedule.configure_sets(SimSystems::from(pair[1]).after(SimSystems::from(pair[0])));
        }
        app.add_schedule(schedule);
        for phase in Phase::ORDER {
            let set = SimSystems::from(phase);
            match phase {
                Phase::Sync => app.add_systems(SimStep, sync.in_set(set)),
                _ => app.add_systems(
                    SimStep,
                    (move |mut w: ResMut<World>| w.0.run_phase(phase)).in_set(set),
                ),
            };
        }
    }
}

/// Builds the app around a world: headless (no window, no renderer).
pub fn make_app(world: SimWorld) -> App {
    let mut app = App::new();
    let n = world.trucks.len();
    app.insert_resource(World(world));
    app.add_plugins(SimPlugin);
    for i in 0..n {
        app.world_mut()
            .spawn((TruckTag(i as u32), TruckPose::default()));
    }
    app
}

/// Runs one step of simulated time.
pub fn step(app: &mut App) {
    app.world_mut().run_schedule(SimStep);
}

/// The world inside an app.
pub fn world(app: &App) -> &SimWorld {
    &app.world().resource::<World>().0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SimConfig;
    use std::sync::Arc;

    #[derive(Resource, Default)]
    struct Trace(Vec<SimSystems>);

    fn world() -> SimWorld {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/sites/default.toml");
        let site = Arc::new(site::file::load(&path).expect("default site loads"));
        let cfg = SimConfig {
            trucks: 3,
            seed: 2,
            ..SimConfig::default()
        };
        SimWorld::new(site, cfg).expect("world")
    }

    #[test]
    fn the_schedule_runs_the_sets_in_phase_order() {
        let mut app = make_app(world());
        app.init_resource::<Trace>();
        for phase in Phase::ORDER {
            let set = SimSystems::from(phase);
            app.add_systems(
                SimStep,
                (move |mut t: ResMut<Trace>| t.0.push(set)).in_set(set),
            );
        }
        step(&mut app);
        let want: Vec<SimSystems> = Phase::ORDER.iter().map(|p| SimSystems::from(*p)).collect();
        assert_eq!(app.world().resource::<Trace>().0, want);
    }

    #[test]
    fn the_app_and_the_plain_world_step_alike() {
        let mut app = make_app(world());
        let mut plain = world();
        for _ in 0..250 {
            step(&mut app);
            plain.step();
        }
        let (a, b) = (
            crate::report::Report::build(super::world(&app), 1.0),
            crate::report::Report::build(&plain, 1.0),
        );
        assert_eq!(a, b);
        let pose = |w: &SimWorld| -> Vec<[f64; 3]> {
            w.trucks
                .iter()
                .map(|t| w.physics.state(t.body).pos)
                .collect()
        };
        assert_eq!(pose(super::world(&app)), pose(&plain));
    }
}
