//! The Bevy side: the world as a resource, one plugin, a schedule of chained systems, and a
//! truck entity per truck whose pose follows its rigid body (what a viewer draws).

use crate::world::SimWorld;
use bevy::app::App;
use bevy::ecs::schedule::{Schedule, ScheduleLabel, SystemSet};
use bevy::prelude::*;

/// The schedule that advances the simulation by one fixed step.
#[derive(ScheduleLabel, Clone, Debug, PartialEq, Eq, Hash)]
pub struct SimStep;

/// The order of work inside a step.
#[derive(SystemSet, Clone, Debug, PartialEq, Eq, Hash)]
pub enum SimSystems {
    Control,
    Physics,
    SiteWork,
    Dispatch,
    Measure,
    Sync,
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

fn control(mut w: ResMut<World>) {
    w.0.control();
}
fn physics(mut w: ResMut<World>) {
    w.0.physics_step();
}
fn site_work(mut w: ResMut<World>) {
    w.0.site_work();
}
fn dispatch(mut w: ResMut<World>) {
    w.0.dispatch();
}
fn measure(mut w: ResMut<World>) {
    w.0.measure();
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
        schedule.configure_sets(
            (
                SimSystems::Control,
                SimSystems::Physics,
                SimSystems::SiteWork,
                SimSystems::Dispatch,
                SimSystems::Measure,
                SimSystems::Sync,
            )
                .chain(),
        );
        app.add_schedule(schedule);
        app.add_systems(SimStep, control.in_set(SimSystems::Control));
        app.add_systems(SimStep, physics.in_set(SimSystems::Physics));
        app.add_systems(SimStep, site_work.in_set(SimSystems::SiteWork));
        app.add_systems(SimStep, dispatch.in_set(SimSystems::Dispatch));
        app.add_systems(SimStep, measure.in_set(SimSystems::Measure));
        app.add_systems(SimStep, sync.in_set(SimSystems::Sync));
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
