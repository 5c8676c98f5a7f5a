//! Manned vehicles in the reservation system: light vehicles and water carts report through
//! their fleet tablets ([`site::protocol::tablet`]), ask for a route to where their driver
//! wants to go, and hold claims and grants exactly like trucks, in the same
//! [`ClaimIndex`]. Trucks yield to them:
//! - a manned vehicle's claim is in the index before any truck's grant is extended, so no
//!   truck is ever granted road a manned vehicle holds;
//! - manned vehicles' grants are extended first, before the trucks' (at an intersection
//!   both want, the manned vehicle gets it);
//! - a vehicle whose tablet went silent for `lost_after` keeps its road frozen (the trucks
//!   keep out of it) until it is heard again.
//!
//! In the index a manned vehicle is the holder [`holder`]`(id)`, a [`TruckId`] in a range no
//! truck uses ([`MANNED_HOLDER_BASE`] and up).

use crate::dispatcher::DispatcherConfig;
use crate::permits::{extend, Claim, ClaimIndex, Extension};
use crate::routing::Router;
use site::ids::{LaneId, RouteId, TruckId};
use site::protocol::tablet::{
    MannedKind, TabletCmd, TabletReply, TabletReport, VehicleId, TABLET_PROTOCOL_VERSION,
};
use site::protocol::PermissionGrant;
use site::route::{Route, RoutePath};
use site::{SimTime, Site};
use std::collections::BTreeMap;

/// Holder ids from here up are manned vehicles in the [`ClaimIndex`].
pub const MANNED_HOLDER_BASE: u32 = 0x8000_0000;
/// How far ahead of a manned vehicle's centre its grant reaches at most, m (a pickup at
/// 50 km/h stops in ~30 m).
pub const MANNED_GRANT_HORIZON_M: f64 = 100.0;

/// The claim-index holder of manned vehicle `id`.
pub fn holder(id: VehicleId) -> TruckId {
    TruckId(MANNED_HOLDER_BASE | id.0)
}

/// Whether a claim-index holder is a manned vehicle.
pub fn is_manned(t: TruckId) -> bool {
    t.0 & MANNED_HOLDER_BASE != 0
}

/// What the dispatcher knows of one manned vehicle.
#[derive(Clone, Debug)]
pub struct MannedView {
    pub kind: MannedKind,
    pub length_m: f64,
    pub last_heard: SimTime,
    pub report: TabletReport,
    pub route: Option<RoutePath>,
    pub progress: f64,
    pub granted: f64,
    pub claim: Claim,
    pub lost: bool,
    standing: Option<(LaneId, f64)>,
    last_grant_sent: Option<SimTime>,
    down_seq: u64,
}

/// Counters of the manned side of the dispatcher.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MannedStats {
    pub reports: u64,
    /// Reports refused: another protocol version, repeated or old sequence numbers.
    pub rejected: u64,
    pub routes: u64,
    pub no_route: u64,
    /// Truck-seconds in which a truck's grant was held short by a manned vehicle's claim.
    pub truck_held_s: f64,
    /// Of those, seconds the truck stood still (it waited for the manned vehicle).
    pub truck_waited_s: f64,
}

/// The manned vehicles the dispatcher knows, and their outbox.
#[derive(Clone, Debug, Default)]
pub struct MannedFleet {
    views: BTreeMap<VehicleId, MannedView>,
    outbox: Vec<TabletReply>,
    pub stats: MannedStats,
    last_tick: Option<SimTime>,
}

impl MannedFleet {
    pub fn views(&self) -> &BTreeMap<VehicleId, MannedView> {
        &self.views
    }

    pub fn is_empty(&self) -> bool {
        self.views.is_empty()
    }

    /// Takes the replies to send.
    pub fn poll_outbox(&mut self) -> Vec<TabletReply> {
        std::mem::take(&mut self.outbox)
    }

    fn send(&mut self, now: SimTime, id: VehicleId, body: TabletCmd) {
        if let Some(v) = self.views.get_mut(&id) {
            v.down_seq += 1;
            self.outbox.push(TabletReply {
                version: TABLET_PROTOCOL_VERSION,
                vehicle: id,
                seq: v.down_seq,
                sent: now,
                body,
            });
        }
    }

    /// One tablet report. The first report of a vehicle enters it (its road is held from
    /// now on); a standing vehicle with no road ahead that wants to go somewhere new gets a
    /// route.
    pub(crate) fn handle(
        &mut self,
        now: SimTime,
        r: &TabletReport,
        site: &Site,
        router: &Router,
        next_route: &mut u32,
    ) {
        if r.version != TABLET_PROTOCOL_VERSION
            || !(r.length_m.is_finite() && r.length_m > 0.0 && r.length_m < 50.0)
            || !r.pos.iter().all(|c| c.is_finite())
        {
            self.stats.rejected += 1;
            return;
        }
        let xy = [r.pos[0], r.pos[1]];
        let first = !self.views.contains_key(&r.vehicle);
        let v = self.views.entry(r.vehicle).or_insert_with(|| MannedView {
            kind: r.kind,
            length_m: r.length_m,
            last_heard: now,
            report: r.clone(),
            route: None,
            progress: 0.0,
            granted: 0.0,
            claim: Claim::default(),
            lost: false,
            standing: site.locate(xy, r.heading),
            last_grant_sent: None,
            down_seq: 0,
        });
        if !first && r.seq <= v.report.seq {
            self.stats.rejected += 1;
            return;
        }
        self.stats.reports += 1;
        v.report = r.clone();
        v.last_heard = now;
        v.lost = false;
        if let Some(route) = &v.route {
            let (d, _) = route.project(xy, v.progress - 10.0, v.progress + 60.0, &site.roads);
            v.progress = d;
        } else if v.standing.is_none() {
            v.standing = site.locate(xy, r.heading);
        }
        let Some(dest) = r.destination else {
            return;
        };
        let arrived_there = v.route.as_ref().is_some_and(|p| {
            p.route.lanes.last() == Some(&dest.0) && (p.route.end_s - dest.1).abs() < 1e-6
        });
        let free_ahead = v.route.is_some() && v.granted > v.progress + 1.0;
        if arrived_there || free_ahead || r.speed.abs() > 0.5 {
            return;
        }
        let from = match &v.route {
            Some(p) => Some(p.locate(v.progress)),
            None => v.standing,
        };
        let half = v.length_m / 2.0;
        let planned = from.and_then(|(lane, s0)| {
            let (_, lanes) = router.route(lane, s0, dest.0, dest.1)?;
            *next_route += 1;
            let route = Route {
                id: RouteId(*next_route),
                lanes,
                start_s: (s0 - half - 4.0).max(0.0),
                end_s: dest.1,
            };
            RoutePath::new(route, &site.roads).ok()
        });
        match planned {
            Some(path) => {
                let (d, _) = path.project(xy, 0.0, half + 60.0, &site.roads);
                v.progress = d;
                v.granted = d;
                v.last_grant_sent = None;
                v.standing = None;
                let route = path.route.clone();
                v.route = Some(path);
                self.stats.routes += 1;
                self.send(now, r.vehicle, TabletCmd::Route(route));
            }
            None => {
                self.stats.no_route += 1;
                self.send(now, r.vehicle, TabletCmd::NoRoute { destination: dest });
            }
        }
    }

    /// Tablets silent for `lost_after`: lost (their road stays frozen).
    pub(crate) fn watch(&mut self, now: SimTime, cfg: &DispatcherConfig) {
        for v in self.views.values_mut() {
            if now.since(v.last_heard) >= cfg.lost_after {
                v.lost = true;
            }
        }
    }

    fn claim_of(v: &MannedView, cfg: &DispatcherConfig, site: &Site) -> Claim {
        let half = v.length_m / 2.0 + cfg.claim_margin_m;
        match (&v.route, v.standing) {
            (Some(r), _) => {
                Claim::on_route(r, v.progress - half, v.granted.max(v.progress) + half, site)
            }
            (None, Some((l, s))) => {
                let len = site.roads.lane(l).length();
                Claim {
                    stretches: vec![(l, (s - half).max(0.0), (s + half).min(len))],
                }
            }
            (None, None) => Claim::default(),
        }
    }

    /// Every manned vehicle's current claim into `index`.
    pub(crate) fn insert_claims(
        &mut self,
        cfg: &DispatcherConfig,
        site: &Site,
        index: &mut ClaimIndex,
    ) {
        for (id, v) in &mut self.views {
            let c = Self::claim_of(v, cfg, site);
            index.insert(holder(*id), &c);
            v.claim = c;
        }
    }

    /// Extends every heard manned vehicle's grant (in id order, before any truck's) against
    /// everyone's claims; sends a grant when it grew or every `regrant_period`.
    pub(crate) fn extend_grants(
        &mut self,
        now: SimTime,
        cfg: &DispatcherConfig,
        site: &Site,
        index: &mut ClaimIndex,
    ) {
        let ids: Vec<VehicleId> = self.views.keys().copied().collect();
        for id in ids {
            let Some(v) = self.views.get_mut(&id) else {
                continue;
            };
            if v.lost {
                continue;
            }
            let Some(route) = &v.route else { continue };
            let half = v.length_m / 2.0 + cfg.claim_margin_m;
            let want = (v.progress + MANNED_GRANT_HORIZON_M).min(route.length);
            let req = Extension {
                me: holder(id),
                route,
                progress: v.progress,
                granted: v.granted,
                half,
                want,
            };
            let new = extend(site, &req, index);
            let changed = new > v.granted + 1e-6;
            let stale = v
                .last_grant_sent
                .is_none_or(|t| now.since(t) >= cfg.regrant_period);
            let route_id = route.route.id;
            if changed {
                let c = Claim::on_route(route, v.progress - half, new + half, site);
                index.remove(holder(id), &v.claim);
                index.insert(holder(id), &c);
                v.claim = c;
            }
            v.granted = new;
            if changed || stale {
                v.last_grant_sent = Some(now);
                let g = PermissionGrant {
                    route: route_id,
                    until_m: new,
                    expires: now + cfg.grant_ttl,
                };
                self.send(now, id, TabletCmd::Permission(g));
            }
        }
    }

    /// Time since the previous tick (for the trucks' waiting figures), s.
    pub(crate) fn tick_dt(&mut self, now: SimTime) -> f64 {
        let dt = self.last_tick.map_or(0.0, |t| now.since(t).as_secs_f64());
        self.last_tick = Some(now);
        dt
    }
}
