//! Safety latches: a truck stopped by link loss or e-stop stays stopped — whatever else it
//! receives — until the dispatcher re-arms it.

use site::ids::{LaneId, RouteId, TruckId};
use site::protocol::{DispatchMsg, DownMsg, MissionState, PermissionGrant, StopReason, Task};
use site::route::Route;
use site::{SimDuration, SimTime, Site};
use std::sync::Arc;
use vehicle::{Sensed, Truck, TruckParams};

/// One truck on a flat 3 km lane, driven by the 1-D force model.
struct Bench {
    site: Arc<Site>,
    truck: Truck,
    now: SimTime,
    s: f64,
    v: f64,
}

impl Bench {
    fn new() -> Bench {
        let site = Arc::new(site::testing::slope(0.0, 3000.0));
        let truck = Truck::new(
            TruckId(0),
            TruckParams::default(),
            site.clone(),
            SimTime::ZERO,
        );
        Bench {
            site,
            truck,
            now: SimTime::ZERO,
            s: 50.0,
            v: 0.0,
        }
    }

    fn msg(&self, body: DispatchMsg) -> DownMsg {
        DownMsg {
            truck: TruckId(0),
            seq: 0,
            sent: self.now,
            body,
        }
    }

    fn grant(&self) -> DownMsg {
        self.msg(DispatchMsg::Permission(PermissionGrant {
            route: RouteId(1),
            until_m: 2900.0,
            expires: self.now + SimDuration::from_secs(3),
        }))
    }

    /// Runs `seconds`; `link` says whether the dispatcher's heartbeats and grants arrive.
    fn run(&mut self, seconds: f64, link: bool, extra: Vec<DownMsg>) {
        let p = self.truck.params;
        let lane = self.site.roads.lane(LaneId(0));
        let mut extra = extra;
        for k in 0..(seconds * 50.0) as usize {
            let mut inbox = std::mem::take(&mut extra);
            if link && k % 5 == 0 {
                inbox.push(self.msg(DispatchMsg::Heartbeat));
                inbox.push(self.grant());
            }
            let pt = lane.point_at(self.s);
            let sensed = Sensed {
                pos: pt.pos,
                heading: pt.heading,
                speed: self.v,
                payload_t: 0.0,
                loader_done: false,
                pos_sigma_m: 0.0,
            };
            let (act, _) = self.truck.step(self.now, &sensed, &inbox);
            let a = p.longitudinal_accel(0.0, self.v, 0.0, act.throttle, act.brake);
            let v_new = (self.v + a * 0.02).max(0.0);
            self.s += 0.5 * (self.v + v_new) * 0.02;
            self.v = v_new;
            self.now += SimDuration::from_millis(20);
        }
    }

    fn start(&mut self) {
        let lane = self.site.roads.lane(LaneId(0));
        let route = Route {
            id: RouteId(1),
            lanes: vec![LaneId(0)],
            start_s: 0.0,
            end_s: lane.length() - 30.0,
        };
        let assign = self.msg(DispatchMsg::Assignment {
            task: Task::Park,
            route,
        });
        self.run(20.0, true, vec![assign]);
        assert!(self.v > 5.0, "truck should be under way, v = {}", self.v);
    }
}

#[test]
fn link_loss_stops_the_truck_and_it_stays_stopped_until_rearmed() {
    let mut b = Bench::new();
    b.start();
    // 3 s of silence: watchdog stop.
    b.run(13.0, false, vec![]);
    assert!(b.v < 0.01, "still moving at {}", b.v);
    let here = b.s;
    assert_eq!(b.truck.state(), MissionState::Stopped);
    assert_eq!(b.truck.stop_reason(), Some(StopReason::LinkLost));
    // The link comes back: heartbeats and fresh grants, but no re-arm — it must not move.
    b.run(20.0, true, vec![]);
    assert!(
        b.s - here < 0.01 && b.v < 0.01,
        "resumed on its own: moved {:.2} m",
        b.s - here
    );
    assert_eq!(b.truck.state(), MissionState::Stopped);
    // Re-armed: it drives on.
    let rearm = b.msg(DispatchMsg::ReArm);
    b.run(20.0, true, vec![rearm]);
    assert!(b.v > 5.0, "did not resume after re-arm, v = {}", b.v);
    assert_eq!(b.truck.state(), MissionState::ToParking);
}

#[test]
fn estop_stops_hard_and_latches() {
    let mut b = Bench::new();
    b.start();
    let v0 = b.v;
    let stop = b.msg(DispatchMsg::EStop(StopReason::Operator));
    b.run(1.0, true, vec![stop]);
    // full brakes: well above the 0.15 g service deceleration
    assert!(
        v0 - b.v > 0.2 * 9.81 * 0.9 || b.v < 0.01,
        "braked only from {v0} to {}",
        b.v
    );
    b.run(20.0, true, vec![]);
    assert!(b.v < 0.01);
    assert_eq!(b.truck.state(), MissionState::Stopped);
    let rearm = b.msg(DispatchMsg::ReArm);
    b.run(20.0, true, vec![rearm]);
    assert!(b.v > 5.0, "did not resume after re-arm");
}

#[test]
fn short_silence_only_slows_the_truck() {
    let mut b = Bench::new();
    b.start();
    let v0 = b.v;
    b.run(0.8, false, vec![]);
    assert_ne!(b.truck.state(), MissionState::Stopped);
    assert!(b.v < v0, "no slow-down after 0.8 s of silence");
    b.run(10.0, true, vec![]);
    assert_ne!(b.truck.state(), MissionState::Stopped);
    assert!(b.v > 5.0);
}

#[test]
fn messages_for_another_truck_are_ignored() {
    let mut b = Bench::new();
    b.start();
    let mut stop = b.msg(DispatchMsg::EStop(StopReason::Operator));
    stop.truck = TruckId(9);
    b.run(2.0, true, vec![stop]);
    assert_ne!(b.truck.state(), MissionState::Stopped);
    assert_eq!(b.truck.stats.rejected_msgs, 1);
}
