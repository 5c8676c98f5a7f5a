//! The supervisor's braking with the real rapier physics: the full brake stops a truck within
//! 5% of v²/(2a) (a from the brake force, grade and rolling resistance of `TruckParams`)
//! across speeds, loads and grades; and a track moving into the truck's path makes it brake
//! and stop short.

use sim_world::physics::Physics;
use site::ids::{LaneId, RouteId, TruckId};
use site::protocol::{DispatchMsg, DownMsg, PermissionGrant, StopReason, Task};
use site::route::Route;
use site::units::G;
use site::{SimDuration, SimTime, Site};
use std::sync::Arc;
use vehicle::supervisor::{Level, Reason};
use vehicle::{Sensed, TrackView, Truck, TruckParams};

fn msg(now: SimTime, body: DispatchMsg) -> DownMsg {
    DownMsg {
        truck: TruckId(0),
        seq: 0,
        sent: now,
        body,
    }
}

struct Rig {
    site: Arc<Site>,
    ph: Physics,
    body: usize,
    truck: Truck,
    now: SimTime,
    payload_t: f64,
}

impl Rig {
    fn new(grade: f64, payload_t: f64) -> Rig {
        let site = Arc::new(site::testing::slope(grade, 1500.0));
        let p = TruckParams::default();
        let mut ph = Physics::new(&site, p, 50.0);
        let x0 = 100.0;
        let body = ph.add_truck([x0, 0.0, site.terrain.height_at(x0, 0.0)], 0.0);
        ph.set_payload(body, payload_t);
        let truck = Truck::new(TruckId(0), p, site.clone(), SimTime::ZERO);
        Rig {
            site,
            ph,
            body,
            truck,
            now: SimTime::ZERO,
            payload_t,
        }
    }

    fn assign(&self) -> Vec<DownMsg> {
        let lane = self.site.roads.lane(LaneId(0));
        let route = Route {
            id: RouteId(1),
            lanes: vec![LaneId(0)],
            start_s: 0.0,
            end_s: lane.length() - 30.0,
        };
        vec![
            msg(
                self.now,
                DispatchMsg::Assignment {
                    task: Task::Park,
                    route,
                },
            ),
            self.grant(),
        ]
    }

    fn grant(&self) -> DownMsg {
        msg(
            self.now,
            DispatchMsg::Permission(PermissionGrant {
                route: RouteId(1),
                until_m: 1400.0,
                expires: self.now + SimDuration::from_secs(3),
            }),
        )
    }

    /// One step of the truck and the physics.
    fn step(&mut self, inbox: &[DownMsg]) {
        let st = self.ph.state(self.body);
        let sensed = Sensed {
            pos: st.pos,
            heading: st.heading,
            speed: st.speed,
            payload_t: self.payload_t,
            loader_done: false,
            pos_sigma_m: vehicle::truck::DEFAULT_POS_SIGMA_M,
        };
        let (act, _) = self.truck.step(self.now, &sensed, inbox);
        self.ph.drive(self.body, &act, self.payload_t);
        self.ph.step();
        self.now += SimDuration::from_millis(20);
    }

    /// Sets the body moving forward along the slope at `v`.
    fn launch(&mut self, v: f64) {
        let st = self.ph.state(self.body);
        let f = st.forward;
        let (b, _) = self.ph.trucks[self.body];
        if let Some(body) = self.ph.world.bodies.get_mut(b) {
            let vel = sim_world::physics::to_physics([f[0] * v, f[1] * v, f[2] * v]);
            body.set_linvel(vel, true);
        }
    }
}

/// Distance the full brake (an e-stop) takes from `v0`, and the expected v²/(2a).
fn stopping(grade: f64, payload_t: f64, v0: f64) -> (f64, f64) {
    let mut r = Rig::new(grade, payload_t);
    // Settle on the wheels, braked.
    let first = r.assign();
    r.step(&first);
    for _ in 0..50 {
        let hold = vehicle::Actuation {
            brake: 1.0,
            ..Default::default()
        };
        r.ph.drive(r.body, &hold, payload_t);
        r.ph.step();
        r.now += SimDuration::from_millis(20);
    }
    r.launch(v0);
    let start = r.ph.state(r.body).pos;
    let stop = vec![msg(r.now, DispatchMsg::EStop(StopReason::Operator))];
    r.step(&stop);
    for _ in 0..3000 {
        let st = r.ph.state(r.body);
        if st.speed.abs() < 0.01 {
            break;
        }
        r.step(&[]);
    }
    let end = r.ph.state(r.body).pos;
    let got =
        ((end[0] - start[0]).powi(2) + (end[1] - start[1]).powi(2) + (end[2] - start[2]).powi(2))
            .sqrt();
    let p = r.truck.params;
    let m = p.mass(payload_t);
    let th = grade.atan();
    let a = p.brake_force_max() / m + G * th.sin() + p.rolling_resistance * G * th.cos();
    (got, v0 * v0 / (2.0 * a))
}

#[test]
fn full_brake_stopping_distance_is_within_5_percent_of_the_force_model() {
    let p = TruckParams::default();
    let mut worst: f64 = 0.0;
    let mut failures = Vec::new();
    for grade in [-0.10, -0.05, 0.0, 0.05, 0.10] {
        for payload in [0.0, p.capacity_t] {
            for v0 in [5.0, 10.0, 15.0] {
                let (got, want) = stopping(grade, payload, v0);
                let err = (got - want) / want;
                eprintln!(
                    "grade {grade:+.2} payload {payload:>5.0} t v0 {v0:>4.1} m/s: {got:7.2} m vs {want:7.2} m ({:+.2}%)",
                    err * 100.0
                );
                worst = worst.max(err.abs());
                if err.abs() > 0.05 {
                    failures.push((grade, payload, v0, got, want));
                }
            }
        }
    }
    eprintln!("worst stopping-distance error {:.2}%", worst * 100.0);
    assert!(failures.is_empty(), "{failures:?}");
}

#[test]
fn a_track_moving_into_the_path_brakes_the_truck_short_of_it_in_rapier() {
    let mut r = Rig::new(0.0, 0.0);
    let first = r.assign();
    r.step(&first);
    let mut k = 0u64;
    let mut drive = |r: &mut Rig, secs: f64, tracks: &mut dyn FnMut(&mut Rig)| {
        for _ in 0..(secs * 50.0) as usize {
            k += 1;
            let inbox = if k.is_multiple_of(5) {
                vec![msg(r.now, DispatchMsg::Heartbeat), r.grant()]
            } else {
                vec![]
            };
            tracks(r);
            r.step(&inbox);
        }
    };
    drive(&mut r, 30.0, &mut |_| {});
    let st = r.ph.state(r.body);
    assert!(st.speed > 10.0, "not under way: {}", st.speed);
    let nose = 0.5 * r.truck.params.length_m;
    let x_c = st.pos[0] + nose + 55.0;
    let t0 = r.now;
    let mut min_gap = f64::INFINITY;
    drive(&mut r, 30.0, &mut |r: &mut Rig| {
        let t = r.now.since(t0).as_secs_f64();
        let y = (25.0 - 5.0 * t).max(0.0);
        let track = TrackView {
            x: x_c,
            y,
            vx: 0.0,
            vy: if y > 0.0 { -5.0 } else { 0.0 },
            length: 8.0,
            width: 4.0,
            confirmed: true,
        };
        if r.now.0.is_multiple_of(100_000) {
            r.truck.set_tracks(r.now, &[track], 120_000);
        }
        let pos = r.ph.state(r.body).pos;
        if y <= 0.5 * 9.5 + 2.0 {
            min_gap = min_gap.min(x_c - 4.0 - (pos[0] + nose));
        }
    });
    let st = r.ph.state(r.body);
    eprintln!("rapier: stopped {min_gap:.2} m short of the crosser");
    assert!(st.speed.abs() < 0.05, "still moving at {}", st.speed);
    assert!(min_gap > 0.0, "hit the crosser ({min_gap:.2} m)");
    assert!(r
        .truck
        .supervisor_log()
        .iter()
        .any(|e| e.reason == Reason::Collision && e.to == Level::Brake));
}
