//! Time controls: pause, single step, 1×/10×/100×. The simulation advances only by running
//! the `SimStep` schedule, a whole number of times per frame, from real frame time scaled by
//! the chosen speed; so the fleet does exactly what the headless run does with the same seed,
//! whatever the frame rate.

use super::ViewerSystems;
use crate::app::{SimStep, World as SimRes};
use bevy::ecs::world::World as EcsWorld;
use bevy::prelude::*;

/// The viewer's clock.
#[derive(Resource, Clone, Debug)]
pub struct SimClock {
    pub paused: bool,
    /// Simulated seconds per real second asked for.
    pub speed: f64,
    /// Simulated time owed, s.
    pub owed_s: f64,
    /// Single steps asked for while paused.
    pub step_requests: u32,
    /// At most this many steps in one frame (the rest is dropped, the achieved factor drops).
    pub max_steps_per_frame: u32,
    /// Achieved real-time factor, smoothed.
    pub achieved: f64,
    /// Steps run in the last frame.
    pub last_steps: u32,
}

impl Default for SimClock {
    fn default() -> Self {
        SimClock {
            paused: false,
            speed: 1.0,
            owed_s: 0.0,
            step_requests: 0,
            max_steps_per_frame: 250,
            achieved: 0.0,
            last_steps: 0,
        }
    }
}

impl SimClock {
    /// How many fixed steps of `dt` to run after `real_dt` seconds of frame time; updates the
    /// owed time. Pure, so that it is tested without a window.
    pub fn steps_for(&mut self, real_dt: f64, dt: f64) -> u32 {
        if self.paused {
            self.owed_s = 0.0;
            let n = self.step_requests;
            self.step_requests = 0;
            return n;
        }
        self.owed_s += real_dt.max(0.0) * self.speed;
        let n = (self.owed_s / dt).floor().max(0.0);
        let n = n.min(self.max_steps_per_frame as f64) as u32;
        self.owed_s -= n as f64 * dt;
        if n == self.max_steps_per_frame {
            // Falling behind: do not build up a debt that would freeze the frames.
            self.owed_s = self.owed_s.min(dt);
        }
        n
    }
}

fn keys(keys: Res<ButtonInput<KeyCode>>, mut clock: ResMut<SimClock>) {
    if keys.just_pressed(KeyCode::Space) {
        clock.paused = !clock.paused;
    }
    if keys.just_pressed(KeyCode::Period) || keys.just_pressed(KeyCode::KeyN) {
        clock.paused = true;
        clock.step_requests += 1;
    }
    for (k, s) in [
        (KeyCode::Digit1, 1.0),
        (KeyCode::Digit2, 10.0),
        (KeyCode::Digit3, 100.0),
    ] {
        if keys.just_pressed(k) {
            clock.speed = s;
            clock.paused = false;
        }
    }
}

/// Runs the simulation schedule as many times as the clock owes.
fn advance(ecs: &mut EcsWorld) {
    let real_dt = ecs.resource::<Time>().delta_secs_f64();
    let dt = ecs.resource::<SimRes>().0.physics.dt;
    let n = ecs.resource_mut::<SimClock>().steps_for(real_dt, dt);
    for _ in 0..n {
        ecs.run_schedule(SimStep);
    }
    let mut clock = ecs.resource_mut::<SimClock>();
    clock.last_steps = n;
    if real_dt > 0.0 {
        let now = n as f64 * dt / real_dt;
        clock.achieved = 0.9 * clock.achieved + 0.1 * now;
    }
}

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<SimClock>();
    app.add_systems(Update, keys.in_set(ViewerSystems::Input));
    app.add_systems(Update, advance.in_set(ViewerSystems::Advance));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_follow_scaled_time() {
        let mut c = SimClock {
            speed: 8.0,
            ..SimClock::default()
        };
        // 10 frames of 1/64 s at 8× = 1.25 s = 40 steps of 1/32 s (exact in binary).
        let mut total = 0;
        for _ in 0..10 {
            total += c.steps_for(1.0 / 64.0, 1.0 / 32.0);
        }
        assert_eq!(total, 40);
    }

    #[test]
    fn paused_runs_only_single_steps() {
        let mut c = SimClock {
            paused: true,
            ..SimClock::default()
        };
        assert_eq!(c.steps_for(1.0, 0.02), 0);
        c.step_requests = 1;
        assert_eq!(c.steps_for(1.0, 0.02), 1);
        assert_eq!(c.steps_for(1.0, 0.02), 0);
    }

    #[test]
    fn falling_behind_is_capped() {
        let mut c = SimClock {
            speed: 100.0,
            max_steps_per_frame: 10,
            ..SimClock::default()
        };
        assert_eq!(c.steps_for(1.0, 0.02), 10);
        assert!(c.owed_s <= 0.02);
    }
}
