//! The 3D viewer (cargo feature `viewer`): the simulated mine drawn with Bevy's renderer.
//!
//! One plugin per file, ordered by [`ViewerSystems`]:
//! - [`scene`]: terrain mesh (benches shaded by slope), roads with lane markings, loaders,
//!   dumps, gNB masts, sky and sun;
//! - [`trucks`]: a low-poly model per truck (payload visible), its transform from `TruckPose`;
//! - [`clock`]: pause / single step / 1×, 10×, 100×: runs the `SimStep` schedule a number of
//!   times per frame from accumulated, scaled real time (the sim itself never sees wall time);
//! - [`camera`]: orbit, pan, zoom; follow a truck (chase, top-down); click to select;
//! - [`overlays`]: toggled overlays drawn from real data (routes, claims, queues, 5G links,
//!   SINR coverage heatmap, and the selected truck's perception: point cloud, detections,
//!   tracks; its plan: candidate trajectories, chosen plan, cost volume; its supervisor);
//! - [`perception`]: obstacles as boxes from the time they appear; the selected truck is the
//!   one whose full point cloud perception keeps; the perception overlays' drawing;
//! - [`plan`]: the drawing of the selected truck's plan, cost volume and supervisor state;
//! - [`radio`]: the 5G model over the site's terrain (serving cell and SINR per truck, coverage);
//! - [`hud`]: clock, real-time factor, frame time, the inspector of the selected truck;
//! - [`shot`]: `--screenshot`: simulate headlessly up to a time, render, save a PNG, exit.

pub mod camera;
pub mod clock;
pub mod hud;
pub mod overlays;
pub mod perception;
pub mod plan;
pub mod radio;
pub mod scene;
pub mod shot;
pub mod trucks;

use crate::app::{make_app, step, world};
use crate::SimWorld;
use bevy::prelude::*;
use bevy::window::WindowResolution;
use site::SimTime;
use std::path::PathBuf;

pub use camera::{CameraChoice, CameraMode, CameraRig, Selection};
pub use clock::SimClock;
pub use overlays::{OverlayKind, Overlays};

/// The order of the viewer's per-frame work.
#[derive(SystemSet, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ViewerSystems {
    /// Keyboard and mouse.
    Input,
    /// Run the simulation schedule.
    Advance,
    /// Entity transforms from the simulation.
    Sync,
    /// Camera placement.
    Camera,
    /// Overlays (gizmos).
    Draw,
    /// Text panels, screenshots.
    Ui,
}

/// Converts a site-frame point (x east, y north, z up) into Bevy's frame (X = x, Y = z, Z = −y).
pub fn to_bevy(p: [f64; 3]) -> Vec3 {
    Vec3::new(p[0] as f32, p[2] as f32, -p[1] as f32)
}

/// What `--screenshot` asks for.
#[derive(Clone, Debug)]
pub struct ShotOptions {
    pub path: PathBuf,
    pub camera: CameraChoice,
    pub overlays: Vec<OverlayKind>,
}

/// How the viewer starts.
#[derive(Clone, Debug)]
pub struct ViewerOptions {
    /// Simulated time to reach headlessly before the first frame.
    pub start_at: SimTime,
    pub screenshot: Option<ShotOptions>,
    pub width: u32,
    pub height: u32,
    /// Camera and overlays at start (interactive too).
    pub camera: CameraChoice,
    pub overlays: Vec<OverlayKind>,
}

/// All viewer plugins.
pub struct ViewerPlugin;

impl Plugin for ViewerPlugin {
    fn build(&self, app: &mut App) {
        app.configure_sets(
            Update,
            (
                ViewerSystems::Input,
                ViewerSystems::Advance,
                ViewerSystems::Sync,
                ViewerSystems::Camera,
                ViewerSystems::Draw,
                ViewerSystems::Ui,
            )
                .chain(),
        );
        app.add_plugins((
            scene::plugin,
            trucks::plugin,
            clock::plugin,
            camera::plugin,
            radio::plugin,
            overlays::plugin,
            perception::plugin,
            hud::plugin,
        ));
    }
}

/// Builds the viewer app around a world: simulates headlessly up to `opts.start_at` first
/// (the same steps as `minesim run`), then adds the window, the renderer and the viewer.
pub fn build_app(sim: SimWorld, opts: &ViewerOptions) -> App {
    let mut app = make_app(sim);
    app.add_plugins(DefaultPlugins.set(WindowPlugin {
        primary_window: Some(Window {
            title: "minesim".into(),
            resolution: WindowResolution::new(opts.width, opts.height),
            ..default()
        }),
        ..default()
    }));
    app.add_plugins(ViewerPlugin);
    app.insert_resource(Overlays::with(&opts.overlays));
    let (mut rig, mut sel) = (CameraRig::default(), Selection::default());
    opts.camera.apply(&mut rig, &mut sel);
    app.insert_resource(rig);
    app.insert_resource(sel);
    // Simulate up to the start time (the same steps as `minesim run`; the viewer's event
    // recorder in `SimStep` sees them).
    while world(&app).now < opts.start_at {
        step(&mut app);
    }
    if let Some(s) = &opts.screenshot {
        app.insert_resource(shot::ShotPlan::new(s.clone()));
        app.add_plugins(shot::plugin);
        app.insert_resource(SimClock {
            paused: true,
            ..SimClock::default()
        });
    }
    app
}
