//! Manned vehicles in the dispatcher's reservation system: a light vehicle's claim holds a
//! truck's grant short of it (the truck yields), a manned vehicle gets a route and grants
//! like a truck, a silent tablet's road stays frozen, and no truck's claim ever overlaps a
//! manned vehicle's.

use fleet::manned::holder;
use fleet::{Dispatcher, DispatcherConfig};
use site::generate::{generate, GenParams};
use site::ids::TruckId;
use site::protocol::tablet::{
    MannedKind, TabletCmd, TabletReport, VehicleId, TABLET_PROTOCOL_VERSION,
};
use site::protocol::{MissionState, Telemetry, TruckInfo, TruckMsg, UpMsg};
use site::route::RoutePath;
use site::{SimDuration, SimTime, Site};
use std::sync::Arc;

fn site() -> Arc<Site> {
    Arc::new(
        site::file::build("generated", &generate(&GenParams::default()))
            .expect("default site builds"),
    )
}

fn up(seq: u64, now: SimTime, body: TruckMsg) -> UpMsg {
    UpMsg {
        truck: TruckId(0),
        seq,
        sent: now,
        body,
    }
}

fn report(seq: u64, now: SimTime, pos: [f64; 3], heading: f64) -> TabletReport {
    TabletReport {
        version: TABLET_PROTOCOL_VERSION,
        vehicle: VehicleId(0),
        kind: MannedKind::LightVehicle,
        seq,
        sent: now,
        pos,
        heading,
        speed: 0.0,
        length_m: 5.5,
        width_m: 2.0,
        route: None,
        progress_m: 0.0,
        destination: None,
    }
}

/// Truck 0 joins where it stands, asks for work and gets a route; returns it.
fn truck_with_route(d: &mut Dispatcher, site: &Site, now: SimTime) -> RoutePath {
    let slot = site.spread_slots(1).expect("room")[0];
    let p = site.roads.lane(slot.lane).point_at(slot.s);
    let info = TruckInfo {
        length_m: 15.5,
        width_m: 9.5,
        capacity_t: 290.0,
    };
    d.handle(now, &up(1, now, TruckMsg::Hello(info)));
    let tm = Telemetry {
        pos: p.pos,
        heading: p.heading,
        speed: 0.0,
        route: None,
        progress_m: 0.0,
        payload_t: 0.0,
        state: MissionState::Idle,
    };
    d.handle(now, &up(2, now, TruckMsg::Telemetry(tm)));
    d.handle(now, &up(3, now, TruckMsg::WorkRequest));
    d.tick(now);
    d.poll_outbox();
    d.trucks()[&TruckId(0)]
        .route
        .clone()
        .expect("a route to a loader")
}

#[test]
fn a_truck_is_never_granted_road_a_light_vehicle_holds() {
    let site = site();
    let mut d = Dispatcher::new(site.clone(), DispatcherConfig::default());
    let t0 = SimTime::ZERO;
    // The truck alone: its grant reaches the horizon.
    let route = {
        let mut alone = Dispatcher::new(site.clone(), DispatcherConfig::default());
        let r = truck_with_route(&mut alone, &site, t0);
        let v = &alone.trucks()[&TruckId(0)];
        assert!(
            v.granted > v.progress + 100.0,
            "{} {}",
            v.granted,
            v.progress
        );
        r
    };
    // A light vehicle standing on that route 60 m ahead of the truck.
    let p0 = {
        let mut probe = Dispatcher::new(site.clone(), DispatcherConfig::default());
        truck_with_route(&mut probe, &site, t0);
        probe.trucks()[&TruckId(0)].progress
    };
    let at = route.point_at(p0 + 60.0, &site.roads);
    d.tablet(t0, &report(1, t0, at.pos, at.heading));
    let r2 = truck_with_route(&mut d, &site, t0);
    assert_eq!(r2.route.lanes, route.route.lanes);
    let v = &d.trucks()[&TruckId(0)];
    let half_truck = 15.5 / 2.0 + d.cfg.claim_margin_m;
    let half_lv = 5.5 / 2.0 + d.cfg.claim_margin_m;
    assert!(
        v.granted + half_truck <= p0 + 60.0 - half_lv + 1e-6,
        "grant {:.1} runs into the light vehicle's claim at {:.1}",
        v.granted,
        p0 + 60.0 - half_lv
    );
    assert!(
        v.granted > v.progress + 20.0,
        "the road up to it is granted"
    );
    let lv = &d.manned().views()[&VehicleId(0)];
    assert!(!v.claim.overlaps(&lv.claim, &site));

    // The light vehicle asks to go somewhere: it gets a route and a grant along it.
    let dest = route.locate(route.length);
    let mut rq = report(2, t0, at.pos, at.heading);
    rq.destination = Some(dest);
    d.tablet(t0, &rq);
    d.tick(t0);
    let out = d.poll_tablet_outbox();
    assert!(out.iter().any(|m| matches!(m.body, TabletCmd::Route(_))));
    let grant = out
        .iter()
        .find_map(|m| match m.body {
            TabletCmd::Permission(g) => Some(g),
            _ => None,
        })
        .expect("a grant follows the route");
    assert!(grant.until_m > 30.0, "{grant:?}");
    let lv = &d.manned().views()[&VehicleId(0)];
    assert!(!d.trucks()[&TruckId(0)].claim.overlaps(&lv.claim, &site));

    // A repeated report is refused; another version too.
    let before = d.manned().stats.rejected;
    d.tablet(t0, &rq);
    d.tablet(
        t0,
        &TabletReport {
            version: 99,
            seq: 50,
            ..rq.clone()
        },
    );
    assert_eq!(d.manned().stats.rejected, before + 2);

    // The tablet goes silent: after `lost_after` its road stays frozen, the truck's grant
    // does not pass its claim however long the dispatcher runs.
    let lv_claim = d.manned().views()[&VehicleId(0)].claim.clone();
    let mut t = t0;
    for _ in 0..100 {
        t += SimDuration::from_millis(100);
        d.tick(t);
        d.poll_outbox();
        d.poll_tablet_outbox();
        let tv = &d.trucks()[&TruckId(0)];
        assert!(
            !tv.claim.overlaps(&lv_claim, &site),
            "truck claim overlaps at {t:?}"
        );
    }
    assert!(d.manned().views()[&VehicleId(0)].lost);
    assert_ne!(holder(VehicleId(0)), TruckId(0));
}
