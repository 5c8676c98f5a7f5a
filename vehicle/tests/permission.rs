//! The safety rule: a truck never passes the end of its permission — for any permission end,
//! initial speed, payload and grade from which stopping is physically possible.

use proptest::prelude::*;
use site::ids::{LaneId, RouteId, TruckId};
use site::protocol::{DispatchMsg, DownMsg, PermissionGrant, Task};
use site::route::Route;
use site::units::G;
use site::{SimDuration, SimTime, Site};
use std::sync::Arc;
use vehicle::dynamics::sin_of_grade;
use vehicle::{Sensed, Truck, TruckParams};

/// A site with one straight 3 km lane on a constant grade.
fn ramp_site(grade: f64) -> Arc<Site> {
    Arc::new(site::testing::slope(grade, 3000.0))
}

/// Drives one truck along the lane with the 1-D force model until it stops; returns the
/// furthest route distance its centre reached.
fn drive(grade: f64, payload_t: f64, v0: f64, start: f64, until: f64, renew: bool) -> (f64, f64) {
    let site = ramp_site(grade);
    let p = TruckParams::default();
    let mut truck = Truck::new(TruckId(0), p, site.clone(), SimTime::ZERO);
    let lane = site.roads.lane(LaneId(0));
    let route = Route {
        id: RouteId(1),
        lanes: vec![LaneId(0)],
        start_s: 0.0,
        end_s: lane.length(),
    };
    let dt = 0.02;
    let mut now = SimTime::ZERO;
    let mut s = start;
    let mut v = v0;
    let grant = |now: SimTime| DownMsg {
        truck: TruckId(0),
        seq: 0,
        sent: now,
        body: DispatchMsg::Permission(PermissionGrant {
            route: RouteId(1),
            until_m: until,
            expires: now + SimDuration::from_secs(3),
        }),
    };
    let mut inbox = vec![
        DownMsg {
            truck: TruckId(0),
            seq: 0,
            sent: now,
            body: DispatchMsg::Assignment {
                task: Task::Park,
                route,
            },
        },
        grant(now),
    ];
    let mut furthest = s;
    for k in 0..30_000 {
        let pt = lane.point_at(s);
        let sensed = Sensed {
            pos: pt.pos,
            heading: pt.heading,
            speed: v,
            payload_t,
            loader_done: false,
            pos_sigma_m: 0.0,
        };
        if renew && k % 10 == 0 {
            inbox.push(grant(now));
        }
        let (act, _) = truck.step(now, &sensed, &inbox);
        inbox.clear();
        let a = p.longitudinal_accel(
            payload_t,
            v,
            lane.point_at(s).grade,
            act.throttle,
            act.brake,
        );
        let v_new = v + a * dt;
        // no reversing through zero within a step
        let v_new = if v > 0.0 && v_new < 0.0 { 0.0 } else { v_new };
        s += 0.5 * (v + v_new) * dt;
        v = v_new;
        furthest = furthest.max(s);
        now += SimDuration::from_millis(20);
        if k > 100 && v.abs() < 1e-3 && act.brake > 0.5 {
            break;
        }
    }
    (furthest, v)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn never_passes_the_end_of_its_permission(
        grade in -0.10f64..0.10,
        payload in 0.0f64..290.0,
        v0 in 0.0f64..16.0,
        gap in 0.5f64..400.0,
        renew in any::<bool>(),
    ) {
        let p = TruckParams::default();
        let start = 100.0;
        let until = start + gap;
        // Only starts from which the truck can physically stop before the end.
        let decel = p.brake_force_max() / p.mass(payload) + G * sin_of_grade(grade) + p.rolling_resistance * G * 0.99;
        prop_assume!(decel > 0.5);
        prop_assume!(v0 * v0 / (2.0 * decel) + v0 * 0.04 < gap - 0.5);
        let (furthest, v_end) = drive(grade, payload, v0, start, until, renew);
        prop_assert!(furthest <= until + 1e-6, "reached {furthest:.3} past {until:.3}");
        prop_assert!(v_end.abs() < 0.05);
    }
}

#[test]
fn drives_up_to_its_permission_not_short_of_it() {
    let (furthest, _) = drive(0.0, 0.0, 0.0, 100.0, 600.0, true);
    assert!(
        furthest > 598.0 && furthest <= 600.0,
        "stopped at {furthest}"
    );
}

#[test]
fn stops_when_the_link_goes_quiet_and_stays_stopped() {
    // Grants are not renewed and nothing else arrives: the watchdog stops the truck.
    let (furthest, v) = drive(0.0, 0.0, 10.0, 100.0, 2900.0, false);
    assert!(
        furthest < 2900.0 - 100.0,
        "watchdog let it run to {furthest}"
    );
    assert!(v.abs() < 0.05);
}
