//! The dispatcher state machine.

use crate::assign::{Allocator, DumpCap, FlowInputs, FlowPlan, LegTimes, LoaderCap, Policy};
use crate::manned::MannedFleet;
use crate::permits::{extend, Claim, ClaimIndex, Extension};
use crate::routing::Router;
use site::ids::{DumpId, LaneId, LoaderId, RouteId, TruckId};
use site::protocol::{
    DispatchMsg, DownMsg, MissionState, PermissionGrant, StopReason, Task, Telemetry, TruckInfo,
    TruckMsg, UpMsg,
};
use site::route::{Route, RoutePath};
use site::{Material, SimDuration, SimTime, Site};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Dispatcher settings (typ. values).
#[derive(Clone, Debug, PartialEq)]
pub struct DispatcherConfig {
    /// How far ahead of a truck's centre a grant reaches at most, m.
    pub grant_horizon_m: f64,
    /// Extra road each claim keeps before and behind the truck's body, m.
    pub claim_margin_m: f64,
    /// Lifetime of a grant.
    pub grant_ttl: SimDuration,
    /// An unchanged grant is re-sent (with a new expiry) this often.
    pub regrant_period: SimDuration,
    pub heartbeat_period: SimDuration,
    /// Not heard from for this long: the truck is lost and its road frozen.
    pub lost_after: SimDuration,
    /// How far back along its old route a new route starts (so the claim covers the body).
    pub route_tail_m: f64,
    /// Re-arm policy for trucks that stopped themselves (link watchdog, expired grant; never
    /// an operator's e-stop): `Some(d)` re-arms such a truck once it has been reporting
    /// `Stopped` over a working link for `d` (what a remote operator does after checking
    /// it); `None` leaves every stopped truck to an operator.
    pub auto_rearm_after: Option<SimDuration>,
    /// How trucks that ask for work are assigned ([`crate::assign`]).
    pub policy: Policy,
    /// How often the `lp` policy solves its flow program again.
    pub replan_period: SimDuration,
    /// Time a truck takes at one dump spot (manoeuvre and tip), s: the dumps' capacity.
    pub dump_per_truck_s: f64,
    /// The crusher's feed-rate target, t/h (`lp`: a ceiling on ore sent to crushers).
    pub crusher_tph: Option<f64>,
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        DispatcherConfig {
            grant_horizon_m: 160.0,
            claim_margin_m: 4.0,
            grant_ttl: SimDuration::from_secs(3),
            regrant_period: SimDuration::from_secs(1),
            heartbeat_period: SimDuration::from_millis(100),
            lost_after: SimDuration::from_secs(2),
            route_tail_m: 30.0,
            auto_rearm_after: None,
            policy: Policy::default(),
            replan_period: SimDuration::from_secs(60),
            dump_per_truck_s: 45.0,
            crusher_tph: None,
        }
    }
}

/// Something the dispatcher did or saw (the event log).
#[derive(Clone, Debug, PartialEq)]
pub struct FleetEvent {
    pub at: SimTime,
    pub truck: TruckId,
    pub kind: FleetEventKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum FleetEventKind {
    Joined,
    Assigned(Task),
    Loaded {
        loader: LoaderId,
        tonnes: f64,
    },
    Dumped {
        dump: DumpId,
    },
    StateChanged(MissionState),
    Lost,
    Found,
    EStop(StopReason),
    ReArmed,
    /// Re-armed by the [`DispatcherConfig::auto_rearm_after`] policy.
    AutoReArmed,
    NoRoute,
}

/// What the dispatcher knows of one truck.
#[derive(Clone, Debug)]
pub struct TruckView {
    pub info: TruckInfo,
    pub last_heard: SimTime,
    pub telemetry: Option<Telemetry>,
    pub task: Option<Task>,
    pub route: Option<RoutePath>,
    /// The truck's centre along `route`, as the dispatcher projects it.
    pub progress: f64,
    pub granted: f64,
    pub claim: Claim,
    pub lost: bool,
    pub estopped: bool,
    blocked_since: Option<SimTime>,
    last_grant_sent: Option<SimTime>,
    standing: Option<(LaneId, f64)>,
    wants_work: bool,
    awaiting_haul: Option<Material>,
    down_seq: u64,
    last_up_seq: u64,
    /// Since when the truck has been reporting `Stopped` with the link up (auto re-arm).
    stopped_heard_since: Option<SimTime>,
    last_auto_rearm: Option<SimTime>,
    /// The leg being timed: since when, and from which dump (empty) or loader (loaded).
    leg: Option<(SimTime, LegStart)>,
    last_dump: Option<DumpId>,
    last_loader: Option<LoaderId>,
    /// The dump the `lp` policy chose with the load ([`crate::assign::Allocator`]).
    planned_dump: Option<DumpId>,
    /// The loader the `fixed` policy gave this truck for the shift.
    pub fixed_loader: Option<LoaderId>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum LegStart {
    Empty(DumpId),
    Loaded(LoaderId),
}

impl TruckView {
    fn new(info: TruckInfo, now: SimTime, standing: Option<(LaneId, f64)>) -> TruckView {
        TruckView {
            info,
            last_heard: now,
            telemetry: None,
            task: None,
            route: None,
            progress: 0.0,
            granted: 0.0,
            claim: Claim::default(),
            lost: false,
            estopped: false,
            blocked_since: None,
            last_grant_sent: None,
            standing,
            wants_work: false,
            awaiting_haul: None,
            down_seq: 0,
            last_up_seq: 0,
            stopped_heard_since: None,
            last_auto_rearm: None,
            leg: None,
            last_dump: None,
            last_loader: None,
            planned_dump: None,
            fixed_loader: None,
        }
    }
}

#[derive(Clone, Debug, Default)]
struct LoaderBook {
    /// Trucks sent to this loader and not yet loaded.
    assigned: Vec<TruckId>,
}

#[derive(Clone, Debug, Default)]
struct DumpBook {
    assigned: Vec<(TruckId, usize)>,
}

/// The dispatcher.
pub struct Dispatcher {
    site: Arc<Site>,
    pub cfg: DispatcherConfig,
    router: Router,
    trucks: BTreeMap<TruckId, TruckView>,
    loaders: Vec<LoaderBook>,
    dumps: Vec<DumpBook>,
    next_route: u32,
    next_heartbeat: SimTime,
    outbox: Vec<DownMsg>,
    events: Vec<FleetEvent>,
    pub rejected: u64,
    /// Manned vehicles in the same reservation system ([`crate::manned`]).
    manned: MannedFleet,
    /// Learned travel times of every loaded and empty leg.
    legs: LegTimes,
    /// The `lp` policy's plan and path history.
    allocator: Allocator,
    next_replan: SimTime,
    /// Each loader's weight in the flow program (1 unless set).
    loader_priority: Vec<f64>,
    /// Flow programs solved, and failed (the old plan kept).
    pub plan_solves: u64,
    pub plan_failures: u64,
    /// Trucks given a loader by the `fixed` policy so far.
    fixed_given: usize,
}

impl Dispatcher {
    pub fn new(site: Arc<Site>, cfg: DispatcherConfig) -> Dispatcher {
        let router = Router::new(&site.roads);
        let loaders = vec![LoaderBook::default(); site.loaders.len()];
        let dumps = vec![DumpBook::default(); site.dumps.len()];
        let legs = free_flow_legs(&site, &router);
        let loader_priority = vec![1.0; site.loaders.len()];
        Dispatcher {
            site,
            cfg,
            router,
            trucks: BTreeMap::new(),
            loaders,
            dumps,
            next_route: 0,
            next_heartbeat: SimTime::ZERO,
            outbox: Vec::new(),
            events: Vec::new(),
            rejected: 0,
            manned: MannedFleet::default(),
            legs,
            allocator: Allocator::default(),
            next_replan: SimTime::ZERO,
            loader_priority,
            plan_solves: 0,
            plan_failures: 0,
            fixed_given: 0,
        }
    }

    /// The travel times learned so far.
    pub fn legs(&self) -> &LegTimes {
        &self.legs
    }

    /// The `lp` policy's current flow plan (empty under the other policies).
    pub fn flow_plan(&self) -> &FlowPlan {
        self.allocator.plan()
    }

    /// Sets a loader's priority (its weight in the flow program; 1 by default). Refuses an
    /// unknown loader or a weight that is not a finite number ≥ 0.
    pub fn set_loader_priority(&mut self, loader: LoaderId, weight: f64) -> Result<(), String> {
        if !(weight.is_finite() && weight >= 0.0) {
            return Err(format!("loader priority {weight} is not a number ≥ 0"));
        }
        let Some(w) = self.loader_priority.get_mut(loader.index()) else {
            return Err(format!("there is no loader {}", loader.0));
        };
        *w = weight;
        // the next tick solves again
        self.next_replan = SimTime::ZERO;
        Ok(())
    }

    pub fn trucks(&self) -> &BTreeMap<TruckId, TruckView> {
        &self.trucks
    }

    /// The manned vehicles the dispatcher knows.
    pub fn manned(&self) -> &MannedFleet {
        &self.manned
    }

    /// One report from a manned vehicle's fleet tablet ([`crate::manned`]).
    pub fn tablet(&mut self, now: SimTime, report: &site::protocol::tablet::TabletReport) {
        let site = self.site.clone();
        self.manned
            .handle(now, report, &site, &self.router, &mut self.next_route);
    }

    /// Takes the replies to the manned vehicles' tablets.
    pub fn poll_tablet_outbox(&mut self) -> Vec<site::protocol::tablet::TabletReply> {
        self.manned.poll_outbox()
    }

    /// Takes the events logged since the last call.
    pub fn drain_events(&mut self) -> Vec<FleetEvent> {
        std::mem::take(&mut self.events)
    }

    /// Takes the messages to send.
    pub fn poll_outbox(&mut self) -> Vec<DownMsg> {
        std::mem::take(&mut self.outbox)
    }

    fn log(&mut self, at: SimTime, truck: TruckId, kind: FleetEventKind) {
        self.events.push(FleetEvent { at, truck, kind });
    }

    fn send(&mut self, now: SimTime, truck: TruckId, body: DispatchMsg) {
        if let Some(v) = self.trucks.get_mut(&truck) {
            v.down_seq += 1;
            self.outbox.push(DownMsg {
                truck,
                seq: v.down_seq,
                sent: now,
                body,
            });
        }
    }

    /// Enters a truck in the fleet roster before it has said anything, standing at `pos`
    /// heading `heading` (where the last shift left it). From now on the road under it is
    /// held for it, so nobody is granted road through a truck the dispatcher has not heard
    /// from yet.
    pub fn register(
        &mut self,
        now: SimTime,
        id: TruckId,
        info: TruckInfo,
        pos: [f64; 2],
        heading: f64,
    ) {
        let standing = self.site.locate(pos, heading);
        self.trucks.insert(id, TruckView::new(info, now, standing));
        self.log(now, id, FleetEventKind::Joined);
    }

    /// Operator: stop a truck now; it stays stopped until re-armed.
    pub fn estop(&mut self, now: SimTime, truck: TruckId, reason: StopReason) {
        if let Some(v) = self.trucks.get_mut(&truck) {
            v.estopped = true;
            self.send(now, truck, DispatchMsg::EStop(reason));
            self.log(now, truck, FleetEventKind::EStop(reason));
        }
    }

    /// Operator: let a stopped truck move again.
    pub fn rearm(&mut self, now: SimTime, truck: TruckId) {
        if let Some(v) = self.trucks.get_mut(&truck) {
            v.estopped = false;
            self.send(now, truck, DispatchMsg::ReArm);
            self.log(now, truck, FleetEventKind::ReArmed);
        }
    }

    /// One message from a truck.
    pub fn handle(&mut self, now: SimTime, msg: &UpMsg) {
        let id = msg.truck;
        if let TruckMsg::Hello(info) = &msg.body {
            if let std::collections::btree_map::Entry::Vacant(slot) = self.trucks.entry(id) {
                slot.insert(TruckView::new(*info, now, None));
                self.log(now, id, FleetEventKind::Joined);
            }
        }
        let site = self.site.clone();
        let Some(v) = self.trucks.get_mut(&id) else {
            self.rejected += 1;
            return;
        };
        if msg.seq <= v.last_up_seq {
            self.rejected += 1;
            return;
        }
        v.last_up_seq = msg.seq;
        v.last_heard = now;
        if v.lost {
            v.lost = false;
            self.log(now, id, FleetEventKind::Found);
        }
        let Some(v) = self.trucks.get_mut(&id) else {
            return;
        };
        match &msg.body {
            // a rostered truck announces its real dimensions
            TruckMsg::Hello(info) => v.info = *info,
            TruckMsg::Heartbeat => {}
            TruckMsg::Telemetry(t) => {
                v.telemetry = Some(*t);
                let xy = [t.pos[0], t.pos[1]];
                if let Some(r) = &v.route {
                    let (d, _) = r.project(xy, v.progress - 10.0, v.progress + 40.0, &site.roads);
                    v.progress = d;
                } else if v.standing.is_none() {
                    v.standing = site.locate(xy, t.heading);
                }
            }
            TruckMsg::StateChanged { to, .. } => {
                let to = *to;
                time_legs(v, &mut self.legs, now, to);
                self.log(now, id, FleetEventKind::StateChanged(to));
            }
            // A truck already on a task does not get a second one (a delayed assignment and a
            // repeated request must not reroute a moving truck).
            TruckMsg::WorkRequest => v.wants_work = v.task.is_none(),
            TruckMsg::LoadDone { loader, tonnes } => {
                let (loader, tonnes) = (*loader, *tonnes);
                let assigned = v.task == Some(Task::Load { loader });
                if let (Some(l), true) = (site.loaders.get(loader.index()), assigned) {
                    v.awaiting_haul = Some(l.material);
                    v.last_loader = Some(loader);
                    if let Some(b) = self.loaders.get_mut(loader.index()) {
                        b.assigned.retain(|t| *t != id);
                    }
                    self.log(now, id, FleetEventKind::Loaded { loader, tonnes });
                } else {
                    self.rejected += 1;
                }
            }
            TruckMsg::DumpDone { dump, .. } => {
                let dump = *dump;
                if v.task == Some(Task::Dump { dump }) {
                    v.task = None;
                }
                v.last_dump = Some(dump);
                if let Some(b) = self.dumps.get_mut(dump.index()) {
                    b.assigned.retain(|e| e.0 != id);
                }
                self.log(now, id, FleetEventKind::Dumped { dump });
            }
        }
    }

    /// Where the truck is: `(lane, s)` and the route it is on, if any.
    fn position(&self, v: &TruckView) -> Option<(LaneId, f64)> {
        match &v.route {
            Some(r) => Some(r.locate(v.progress)),
            None => v.standing,
        }
    }

    /// Builds a route for a truck from where it stands to `(lane, s)`, starting a little
    /// behind it so that its claim covers its body.
    fn plan(&mut self, id: TruckId, to: LaneId, s1: f64) -> Option<(f64, RoutePath)> {
        let v = self.trucks.get(&id)?;
        let (lane, s0) = self.position(v)?;
        let (cost, path) = self.router.route(lane, s0, to, s1)?;
        let tail = self.cfg.route_tail_m;
        let (mut lanes, start_s) = match &v.route {
            Some(old) if v.progress > 0.0 => {
                let back = (v.progress - tail).max(0.0);
                let i0 = old.lane_index(back);
                let i1 = old.lane_index(v.progress);
                let (_, sb) = old.locate(back);
                (old.route.lanes[i0..i1].to_vec(), sb)
            }
            _ => (Vec::new(), (s0 - tail).max(0.0)),
        };
        lanes.extend(path);
        self.next_route += 1;
        let route = Route {
            id: RouteId(self.next_route),
            lanes,
            start_s,
            end_s: s1,
        };
        RoutePath::new(route, &self.site.roads)
            .ok()
            .map(|r| (cost, r))
    }

    fn assign(&mut self, now: SimTime, id: TruckId, task: Task, path: RoutePath) {
        let site = self.site.clone();
        let Some(v) = self.trucks.get_mut(&id) else {
            return;
        };
        let xy = v
            .telemetry
            .map(|t| [t.pos[0], t.pos[1]])
            .unwrap_or([0.0, 0.0]);
        let (d, _) = path.project(xy, 0.0, self.cfg.route_tail_m + 50.0, &site.roads);
        v.progress = d;
        v.granted = d;
        v.task = Some(task);
        v.blocked_since = None;
        v.last_grant_sent = None;
        let route = path.route.clone();
        v.route = Some(path);
        v.standing = None;
        self.send(now, id, DispatchMsg::Assignment { task, route });
        self.log(now, id, FleetEventKind::Assigned(task));
    }

    fn load_time(&self, loader: usize, capacity_t: f64) -> f64 {
        let l = &self.site.loaders[loader];
        (capacity_t / l.bucket_t).ceil() * l.pass_s + 40.0
    }

    /// The loader where a truck standing at `(lane, s0)` could start loading soonest: its
    /// travel time against the queue already sent there (the `nearest` policy).
    fn soonest_loader(&self, lane: LaneId, s0: f64, cap: f64) -> Option<usize> {
        let mut best: Option<(f64, usize)> = None;
        for (i, l) in self.site.loaders.iter().enumerate() {
            let Some((travel, _)) = self.router.route(lane, s0, l.lane, l.spot_s) else {
                continue;
            };
            let load = self.load_time(i, cap);
            let queue = self.loaders[i].assigned.len() as f64 * load;
            let start = travel.max(queue) + load;
            if best.is_none_or(|b| start < b.0) {
                best = Some((start, i));
            }
        }
        best.map(|b| b.1)
    }

    /// The truck's loader for the shift (the `fixed` policy): given on its first request,
    /// round-robin over the loaders in the order trucks first ask.
    fn fixed_loader(&mut self, id: TruckId) -> Option<usize> {
        let n = self.site.loaders.len();
        if n == 0 {
            return None;
        }
        let given = self.trucks.get(&id)?.fixed_loader;
        let l = match given {
            Some(l) => l,
            None => {
                let l = LoaderId((self.fixed_given % n) as u32);
                self.fixed_given += 1;
                if let Some(v) = self.trucks.get_mut(&id) {
                    v.fixed_loader = Some(l);
                }
                l
            }
        };
        Some(l.index())
    }

    /// The path furthest behind its rate that a truck at `(lane, s0)` can reach (the `lp`
    /// policy, [`Allocator::choose`]): its loader, and the dump its load goes to.
    fn lp_path(&mut self, now: SimTime, lane: LaneId, s0: f64) -> Option<(usize, DumpId)> {
        let slowdown = self.legs.slowdown();
        let (router, site) = (&self.router, &self.site);
        let travel = |l: LoaderId| {
            let spec = site.loaders.get(l.index())?;
            router
                .route(lane, s0, spec.lane, spec.spot_s)
                .map(|(t, _)| t * slowdown)
        };
        let (l, d) = self.allocator.choose(now.as_secs_f64(), travel)?;
        Some((l.index(), d))
    }

    /// Sends a truck that asked for work to a loader, by the run's [`Policy`].
    fn assign_load(&mut self, now: SimTime, id: TruckId) {
        let Some(v) = self.trucks.get(&id) else {
            return;
        };
        let cap = v.info.capacity_t;
        let Some((lane, s0)) = self.position(v) else {
            return;
        };
        let choice = match self.cfg.policy {
            Policy::Nearest => self.soonest_loader(lane, s0, cap).map(|i| (i, None)),
            Policy::Fixed => self.fixed_loader(id).map(|i| (i, None)),
            Policy::Lp => match self.lp_path(now, lane, s0) {
                Some((i, d)) => Some((i, Some(d))),
                // no plan yet, or no planned path reachable from here
                None => self.soonest_loader(lane, s0, cap).map(|i| (i, None)),
            },
        };
        let Some((i, dump)) = choice else {
            self.log(now, id, FleetEventKind::NoRoute);
            return;
        };
        let (lane_to, spot) = (self.site.loaders[i].lane, self.site.loaders[i].spot_s);
        match self.plan(id, lane_to, spot) {
            Some((_, path)) => {
                self.loaders[i].assigned.push(id);
                if let Some(v) = self.trucks.get_mut(&id) {
                    v.wants_work = false;
                    v.planned_dump = dump;
                }
                self.assign(
                    now,
                    id,
                    Task::Load {
                        loader: site::ids::LoaderId(i as u32),
                    },
                    path,
                );
            }
            None => self.log(now, id, FleetEventKind::NoRoute),
        }
    }

    /// Sends a loaded truck to the dump of its material it reaches soonest.
    fn assign_haul(&mut self, now: SimTime, id: TruckId, material: Material) {
        let Some(v) = self.trucks.get(&id) else {
            return;
        };
        let Some((lane, s0)) = self.position(v) else {
            return;
        };
        // The `lp` policy's dump for this load, if it takes the material.
        let planned = v.planned_dump.filter(|d| {
            self.site
                .dumps
                .get(d.index())
                .is_some_and(|d| d.kind.accepts(material))
        });
        let mut best: Option<(f64, usize, usize)> = None;
        for (i, d) in self.site.dumps.iter().enumerate() {
            if !d.kind.accepts(material) || planned.is_some_and(|p| p.index() != i) {
                continue;
            }
            let Some((travel, _)) = self.router.route(lane, s0, d.lane, d.spots_s[0]) else {
                continue;
            };
            let book = &self.dumps[i];
            let per_spot = book.assigned.len() as f64 / d.spots_s.len() as f64;
            let score = travel + per_spot * 90.0;
            // The spot fewest trucks are heading to; the farthest among equals.
            let spot = (0..d.spots_s.len())
                .rev()
                .min_by_key(|&k| book.assigned.iter().filter(|e| e.1 == k).count())
                .unwrap_or(0);
            if best.is_none_or(|b| score < b.0) {
                best = Some((score, i, spot));
            }
        }
        let Some((_, i, spot)) = best else {
            self.log(now, id, FleetEventKind::NoRoute);
            return;
        };
        let (lane_to, s1) = (self.site.dumps[i].lane, self.site.dumps[i].spots_s[spot]);
        if let Some((_, path)) = self.plan(id, lane_to, s1) {
            self.dumps[i].assigned.push((id, spot));
            if let Some(v) = self.trucks.get_mut(&id) {
                v.awaiting_haul = None;
                v.planned_dump = None;
            }
            self.assign(
                now,
                id,
                Task::Dump {
                    dump: DumpId(i as u32),
                },
                path,
            );
        }
    }

    fn claim_of(&self, v: &TruckView) -> Claim {
        let half = v.info.length_m / 2.0 + self.cfg.claim_margin_m;
        match &v.route {
            Some(r) => Claim::on_route(
                r,
                v.progress - half,
                v.granted.max(v.progress) + half,
                &self.site,
            ),
            None => match v.standing {
                Some((l, s)) => {
                    let len = self.site.roads.lane(l).length();
                    Claim {
                        stretches: vec![(l, (s - half).max(0.0), (s + half).min(len))],
                    }
                }
                None => Claim::default(),
            },
        }
    }

    /// Runs the watchdog, the re-arm policy, assignment, permissions and heartbeats, in
    /// this fixed order (each phase sees what the ones before it did at this `now`):
    /// 1. `watch_links`: trucks silent too long are marked lost;
    /// 2. `apply_rearm_policy`: self-stopped trucks heard long enough are re-armed (only
    ///    with [`DispatcherConfig::auto_rearm_after`]);
    /// 3. `replan` (the `lp` policy, every `replan_period`): the flow program solved
    ///    again on the learned travel times and the trucks available;
    /// 4. `assign_work`: standing trucks get their next task and route;
    /// 5. `extend_permissions`: everyone's claim, then grants extended one truck at a time;
    /// 6. `send_heartbeats`: every `heartbeat_period`.
    pub fn tick(&mut self, now: SimTime) {
        self.watch_links(now);
        self.apply_rearm_policy(now);
        self.replan(now);
        self.assign_work(now);
        self.extend_permissions(now);
        self.send_heartbeats(now);
    }

    /// Watchdog: a truck not heard from for `lost_after` is marked lost (its road stays
    /// frozen until it is heard again).
    fn watch_links(&mut self, now: SimTime) {
        self.manned.watch(now, &self.cfg);
        let lost: Vec<TruckId> = self
            .trucks
            .iter()
            .filter(|(_, v)| !v.lost && now.since(v.last_heard) >= self.cfg.lost_after)
            .map(|(id, _)| *id)
            .collect();
        for id in lost {
            if let Some(v) = self.trucks.get_mut(&id) {
                v.lost = true;
            }
            self.log(now, id, FleetEventKind::Lost);
        }
    }

    /// The `lp` policy's flow program, solved again every `replan_period` (at once after a
    /// loader's priority changed) for the trucks heard, not lost and not e-stopped, on the
    /// travel times learned so far. A failed solve keeps the old plan.
    fn replan(&mut self, now: SimTime) {
        if self.cfg.policy != Policy::Lp || now < self.next_replan {
            return;
        }
        self.next_replan = now + self.cfg.replan_period;
        let working: Vec<f64> = self
            .trucks
            .values()
            .filter(|v| !v.lost && !v.estopped && v.telemetry.is_some())
            .map(|v| v.info.capacity_t)
            .collect();
        let payload_t = if working.is_empty() {
            return;
        } else {
            working.iter().sum::<f64>() / working.len() as f64
        };
        let loaders = (0..self.site.loaders.len())
            .map(|i| LoaderCap {
                material: self.site.loaders[i].material,
                load_s: self.load_time(i, payload_t),
                priority: self.loader_priority.get(i).copied().unwrap_or(1.0),
                available: true,
            })
            .collect();
        let dumps = self
            .site
            .dumps
            .iter()
            .map(|d| DumpCap {
                kind: d.kind,
                spots: d.spots_s.len(),
                per_truck_s: self.cfg.dump_per_truck_s,
            })
            .collect();
        let inputs = FlowInputs {
            loaders,
            dumps,
            legs: self.legs.clone(),
            trucks: working.len(),
            payload_t,
            crusher_tph: self.cfg.crusher_tph,
        };
        match crate::assign::solve(&inputs) {
            Ok(plan) => {
                self.allocator.set_plan(plan);
                self.plan_solves += 1;
            }
            Err(_) => self.plan_failures += 1,
        }
    }

    /// Re-arm policy: a truck that stopped itself and has reported `Stopped` over a working
    /// link for `auto_rearm_after` is sent a re-arm (never one an operator e-stopped).
    fn apply_rearm_policy(&mut self, now: SimTime) {
        let Some(after) = self.cfg.auto_rearm_after else {
            return;
        };
        let mut rearm = Vec::new();
        for (id, v) in &mut self.trucks {
            let stopped = v
                .telemetry
                .is_some_and(|t| t.state == MissionState::Stopped);
            if !stopped || v.lost || v.estopped {
                v.stopped_heard_since = None;
                continue;
            }
            let since = *v.stopped_heard_since.get_or_insert(now);
            let recent = v.last_auto_rearm.is_some_and(|t| now.since(t) < after);
            if now.since(since) >= after && !recent {
                v.last_auto_rearm = Some(now);
                v.stopped_heard_since = None;
                rearm.push(*id);
            }
        }
        for id in rearm {
            self.send(now, id, DispatchMsg::ReArm);
            self.log(now, id, FleetEventKind::AutoReArmed);
        }
    }

    /// Assignment: a heard truck standing still with no road granted ahead of it gets a dump
    /// if it is loaded, a loader if it asked for work.
    fn assign_work(&mut self, now: SimTime) {
        let ids: Vec<TruckId> = self.trucks.keys().copied().collect();
        for id in ids {
            let Some(v) = self.trucks.get(&id) else {
                continue;
            };
            if v.lost || v.telemetry.is_none() {
                continue;
            }
            // Only a standing truck gets a new route, and only one with no road granted ahead
            // of it unless it is done with its route (loaded and waiting for a haul, or
            // tipped and asking for work): a truck on its spot may stand more than a metre
            // short of the route's end (a planner that stops with a margin, a localisation
            // error) and would otherwise wait there for ever.
            let moving = v.telemetry.is_none_or(|t| t.speed.abs() > 0.5);
            let done = v.awaiting_haul.is_some() || v.task.is_none();
            if moving || (!done && v.route.is_some() && v.granted > v.progress + 1.0) {
                continue;
            }
            if let Some(m) = v.awaiting_haul {
                self.assign_haul(now, id, m);
            } else if v.wants_work {
                self.assign_load(now, id);
            }
        }
    }

    /// Permissions: takes everyone's current claim, then extends one truck's grant at a
    /// time, longest-blocked first, against the others' claims ([`extend`]); sends a grant
    /// when it grew or every `regrant_period`.
    fn extend_permissions(&mut self, now: SimTime) {
        let mut index = ClaimIndex::new(self.site.roads.lanes.len());
        let ids: Vec<TruckId> = self.trucks.keys().copied().collect();
        for &id in &ids {
            if let Some(v) = self.trucks.get(&id) {
                let c = self.claim_of(v);
                index.insert(id, &c);
                if let Some(v) = self.trucks.get_mut(&id) {
                    v.claim = c;
                }
            }
        }
        // Manned vehicles first: their claims are in the index before any truck's grant
        // grows, and their grants grow before the trucks' (trucks yield to them).
        // `trucks_only` is the same index without them, to tell when a truck is held by one.
        let mut trucks_only = (!self.manned.is_empty()).then(|| index.clone());
        let dt = self.manned.tick_dt(now);
        let site = self.site.clone();
        self.manned.insert_claims(&self.cfg, &site, &mut index);
        self.manned.extend_grants(now, &self.cfg, &site, &mut index);
        let mut order: Vec<(SimTime, TruckId)> = self
            .trucks
            .iter()
            .map(|(id, v)| (v.blocked_since.unwrap_or(SimTime(u64::MAX)), *id))
            .collect();
        order.sort();
        for (_, id) in order {
            let Some(v) = self.trucks.get(&id) else {
                continue;
            };
            if v.lost || v.estopped || v.telemetry.is_none() {
                continue;
            }
            let Some(route) = &v.route else { continue };
            let half = v.info.length_m / 2.0 + self.cfg.claim_margin_m;
            let want = (v.progress + self.cfg.grant_horizon_m).min(route.length);
            let req = Extension {
                me: id,
                route,
                progress: v.progress,
                granted: v.granted,
                half,
                want,
            };
            let new = extend(&site, &req, &index);
            if let Some(alone) = &trucks_only {
                if new + 1.0 < want && extend(&site, &req, alone) > new + 1.0 {
                    // Held short by a manned vehicle's claim.
                    self.manned.stats.truck_held_s += dt;
                    if v.telemetry.is_some_and(|t| t.speed.abs() < 0.5) {
                        self.manned.stats.truck_waited_s += dt;
                    }
                }
            }
            let changed = new > v.granted + 1e-6;
            let stale = v
                .last_grant_sent
                .is_none_or(|t| now.since(t) >= self.cfg.regrant_period);
            let blocked = new + 1.0 < want;
            let route_id = route.route.id;
            let new_claim =
                changed.then(|| Claim::on_route(route, v.progress - half, new + half, &site));
            let Some(v) = self.trucks.get_mut(&id) else {
                continue;
            };
            v.granted = new;
            v.blocked_since = if blocked {
                v.blocked_since.or(Some(now))
            } else {
                None
            };
            if let Some(c) = new_claim {
                index.remove(id, &v.claim);
                index.insert(id, &c);
                if let Some(alone) = &mut trucks_only {
                    alone.remove(id, &v.claim);
                    alone.insert(id, &c);
                }
                v.claim = c;
            }
            if changed || stale {
                v.last_grant_sent = Some(now);
                let g = PermissionGrant {
                    route: route_id,
                    until_m: new,
                    expires: now + self.cfg.grant_ttl,
                };
                self.send(now, id, DispatchMsg::Permission(g));
            }
        }
    }

    /// Heartbeats: one to every truck every `heartbeat_period`.
    fn send_heartbeats(&mut self, now: SimTime) {
        if now >= self.next_heartbeat {
            self.next_heartbeat = now + self.cfg.heartbeat_period;
            let ids: Vec<TruckId> = self.trucks.keys().copied().collect();
            for id in ids {
                self.send(now, id, DispatchMsg::Heartbeat);
            }
        }
    }
}

/// Every leg's free-flow time by the router (each lane at its speed limit): loader spot to
/// the first spot of each dump that takes its material, and back.
fn free_flow_legs(site: &Site, router: &Router) -> LegTimes {
    let mut legs = LegTimes::default();
    for (i, l) in site.loaders.iter().enumerate() {
        let li = LoaderId(i as u32);
        for (j, d) in site.dumps.iter().enumerate() {
            let (dj, Some(&spot)) = (DumpId(j as u32), d.spots_s.first()) else {
                continue;
            };
            if !d.kind.accepts(l.material) {
                continue;
            }
            if let Some((t, _)) = router.route(l.lane, l.spot_s, d.lane, spot) {
                legs.set_loaded_free(li, dj, t);
            }
            if let Some((t, _)) = router.route(d.lane, spot, l.lane, l.spot_s) {
                legs.set_empty_free(dj, li, t);
            }
        }
    }
    legs
}

/// Times the truck's legs from its state changes: an empty leg from leaving a dump
/// (`ToLoader`) to reaching its loader (queue, spotting or loading), a loaded leg from
/// leaving a loader (`Hauling`) to reaching its dump (queue or tipping). A stop, a fault or
/// parking on the way drops the leg (its time says nothing about the road).
fn time_legs(v: &mut TruckView, legs: &mut LegTimes, now: SimTime, to: MissionState) {
    use MissionState as S;
    match to {
        S::ToLoader => v.leg = v.last_dump.map(|d| (now, LegStart::Empty(d))),
        S::Hauling => v.leg = v.last_loader.map(|l| (now, LegStart::Loaded(l))),
        S::QueueLoader | S::Spotting | S::Loading => {
            if let Some((t0, LegStart::Empty(d))) = v.leg {
                if let Some(Task::Load { loader }) = v.task {
                    legs.observe_empty(d, loader, now.since(t0).as_secs_f64());
                }
                v.leg = None;
            }
        }
        S::QueueDump | S::Dumping => {
            if let Some((t0, LegStart::Loaded(l))) = v.leg {
                if let Some(Task::Dump { dump }) = v.task {
                    legs.observe_loaded(l, dump, now.since(t0).as_secs_f64());
                }
                v.leg = None;
            }
        }
        S::Stopped | S::Faulted | S::ToParking | S::Parked | S::Idle => v.leg = None,
    }
}
