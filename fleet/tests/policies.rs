//! Assignment policies in the dispatcher: fixed allocation, the flow program with the path
//! furthest behind, travel times learned from the trucks' state changes.

use fleet::assign::Policy;
use fleet::{Dispatcher, DispatcherConfig};
use site::generate::{generate, GenParams};
use site::ids::{DumpId, LoaderId, TruckId};
use site::protocol::{DispatchMsg, MissionState, Task, Telemetry, TruckInfo, TruckMsg, UpMsg};
use site::{SimTime, Site};
use std::collections::BTreeMap;
use std::sync::Arc;

fn site() -> Arc<Site> {
    Arc::new(
        site::file::build("generated", &generate(&GenParams::default()))
            .expect("default site builds"),
    )
}

fn dispatcher(site: &Arc<Site>, policy: Policy) -> Dispatcher {
    Dispatcher::new(
        site.clone(),
        DispatcherConfig {
            policy,
            ..DispatcherConfig::default()
        },
    )
}

struct Fleet {
    seq: BTreeMap<TruckId, u64>,
}

impl Fleet {
    fn send(&mut self, d: &mut Dispatcher, now: SimTime, truck: TruckId, body: TruckMsg) {
        let seq = self.seq.entry(truck).or_insert(0);
        *seq += 1;
        d.handle(
            now,
            &UpMsg {
                truck,
                seq: *seq,
                sent: now,
                body,
            },
        );
    }

    /// `n` trucks say hello from spread parking slots, report standing still, and ask for work.
    fn join(d: &mut Dispatcher, site: &Site, n: usize, now: SimTime) -> Fleet {
        let mut f = Fleet {
            seq: BTreeMap::new(),
        };
        let slots = site.spread_slots(n).expect("room for the fleet");
        for (k, slot) in slots.iter().enumerate() {
            let id = TruckId(k as u32);
            f.send(
                d,
                now,
                id,
                TruckMsg::Hello(TruckInfo {
                    length_m: 15.5,
                    width_m: 9.5,
                    capacity_t: 290.0,
                }),
            );
            let p = site.roads.lane(slot.lane).point_at(slot.s);
            f.send(d, now, id, telemetry(p.pos, p.heading, MissionState::Idle));
            f.send(d, now, id, TruckMsg::WorkRequest);
        }
        f
    }
}

fn telemetry(pos: [f64; 3], heading: f64, state: MissionState) -> TruckMsg {
    TruckMsg::Telemetry(Telemetry {
        pos,
        heading,
        speed: 0.0,
        route: None,
        progress_m: 0.0,
        payload_t: 0.0,
        state,
    })
}

/// The loader each truck was sent to.
fn loads(out: &[site::protocol::DownMsg]) -> BTreeMap<TruckId, LoaderId> {
    out.iter()
        .filter_map(|m| match &m.body {
            DispatchMsg::Assignment {
                task: Task::Load { loader },
                ..
            } => Some((m.truck, *loader)),
            _ => None,
        })
        .collect()
}

#[test]
fn fixed_allocation_spreads_the_fleet_evenly_over_the_loaders() {
    let site = site();
    let mut d = dispatcher(&site, Policy::Fixed);
    let n_loaders = site.loaders.len();
    let n = 2 * n_loaders;
    Fleet::join(&mut d, &site, n, SimTime::ZERO);
    d.tick(SimTime::ZERO);
    let sent = loads(&d.poll_outbox());
    assert_eq!(sent.len(), n, "every truck gets a loader");
    let mut per = vec![0; n_loaders];
    for l in sent.values() {
        per[l.index()] += 1;
    }
    assert!(per.iter().all(|&c| c == 2), "two trucks a loader: {per:?}");
    // each keeps it for the shift
    for (id, l) in &sent {
        assert_eq!(d.trucks()[id].fixed_loader, Some(*l));
    }
}

#[test]
fn the_flow_program_sends_trucks_only_on_paths_with_a_rate() {
    let site = site();
    let mut d = dispatcher(&site, Policy::Lp);
    Fleet::join(&mut d, &site, 12, SimTime::ZERO);
    d.tick(SimTime::ZERO);
    assert_eq!(d.plan_solves, 1);
    let plan = d.flow_plan().clone();
    assert!(plan.tph > 0.0 && !plan.loaded.is_empty(), "{plan:?}");
    assert!(
        plan.trucks_needed <= 12.0 + 1e-6,
        "the plan keeps at most the 12 trucks busy: {plan:?}"
    );
    let sent = loads(&d.poll_outbox());
    assert_eq!(sent.len(), 12);
    for l in sent.values() {
        assert!(
            plan.loaded.keys().any(|(pl, _)| pl == l),
            "loader {l:?} has no rate in {plan:?}"
        );
    }
    // The nearest policy on the same fleet sends the same number of trucks.
    let mut near = dispatcher(&site, Policy::Nearest);
    Fleet::join(&mut near, &site, 12, SimTime::ZERO);
    near.tick(SimTime::ZERO);
    assert_eq!(loads(&near.poll_outbox()).len(), 12);
    assert!(near.flow_plan().loaded.is_empty());
}

#[test]
fn travel_times_are_learned_from_the_legs_trucks_drive() {
    let site = site();
    let mut d = dispatcher(&site, Policy::Lp);
    let mut f = Fleet::join(&mut d, &site, 1, SimTime::ZERO);
    let id = TruckId(0);
    d.tick(SimTime::ZERO);
    let loader = *loads(&d.poll_outbox()).get(&id).expect("a loader");
    let dump = DumpId(
        site.dumps
            .iter()
            .position(|x| x.kind.accepts(site.loaders[loader.index()].material))
            .expect("a dump for its material") as u32,
    );
    let free_loaded = d.legs().loaded[&(loader, dump)].free_s;
    let at = |s: u64| SimTime::from_secs_f64(s as f64);
    let change = |to| TruckMsg::StateChanged {
        from: MissionState::Idle,
        to,
    };
    // loaded at 100 s; its haul route; hauling from 110 s; at the dump queue at 410 s
    f.send(
        &mut d,
        at(100),
        id,
        TruckMsg::LoadDone {
            loader,
            tonnes: 290.0,
        },
    );
    d.tick(at(100));
    let got_haul = d.poll_outbox().iter().any(|m| {
        matches!(
            m.body,
            DispatchMsg::Assignment {
                task: Task::Dump { dump: got },
                ..
            } if got == dump
        )
    });
    assert!(got_haul, "the loaded truck is sent to {dump:?}");
    f.send(&mut d, at(110), id, change(MissionState::Hauling));
    f.send(&mut d, at(410), id, change(MissionState::QueueDump));
    let leg = d.legs().loaded[&(loader, dump)];
    assert_eq!((leg.observed_s, leg.n), (Some(300.0), 1));
    assert_eq!(leg.free_s, free_loaded, "the free-flow time stays");
    // tipped at 450 s, asks for work, sent back; empty from 460 s, spotting at 700 s
    f.send(
        &mut d,
        at(450),
        id,
        TruckMsg::DumpDone {
            dump,
            tonnes: 290.0,
        },
    );
    f.send(&mut d, at(451), id, TruckMsg::WorkRequest);
    d.tick(at(451));
    let back = *loads(&d.poll_outbox()).get(&id).expect("a loader again");
    f.send(&mut d, at(460), id, change(MissionState::ToLoader));
    // a stop on the way drops the leg: its time says nothing about the road
    f.send(&mut d, at(500), id, change(MissionState::Stopped));
    f.send(&mut d, at(700), id, change(MissionState::Spotting));
    assert_eq!(d.legs().empty[&(dump, back)].n, 0);
    // driven again without a stop: 710 s to 900 s
    f.send(&mut d, at(710), id, change(MissionState::ToLoader));
    f.send(&mut d, at(900), id, change(MissionState::Loading));
    let leg = d.legs().empty[&(dump, back)];
    assert_eq!((leg.observed_s, leg.n), (Some(190.0), 1));
}

#[test]
fn a_loader_priority_must_name_a_loader_and_a_weight() {
    let site = site();
    let mut d = dispatcher(&site, Policy::Lp);
    assert!(d.set_loader_priority(LoaderId(0), 2.0).is_ok());
    let e = d
        .set_loader_priority(LoaderId(99), 1.0)
        .expect_err("no loader 99");
    assert!(e.contains("99"), "{e}");
    assert!(d.set_loader_priority(LoaderId(0), f64::NAN).is_err());
    assert!(d.set_loader_priority(LoaderId(0), -1.0).is_err());
}

#[test]
fn a_heavier_priority_draws_trucks_to_its_loader() {
    let site = site();
    // The loader the fewest trucks go to without priorities gets weight 5.
    let mut plain = dispatcher(&site, Policy::Lp);
    Fleet::join(&mut plain, &site, 6, SimTime::ZERO);
    plain.tick(SimTime::ZERO);
    let base = plain.flow_plan().clone();
    let rate = |plan: &fleet::assign::FlowPlan, l: LoaderId| plan.loader_tph(l, 290.0);
    let weak = (0..site.loaders.len() as u32)
        .map(LoaderId)
        .min_by(|a, b| rate(&base, *a).total_cmp(&rate(&base, *b)))
        .expect("loaders");
    let mut d = dispatcher(&site, Policy::Lp);
    d.set_loader_priority(weak, 5.0).expect("valid");
    Fleet::join(&mut d, &site, 6, SimTime::ZERO);
    d.tick(SimTime::ZERO);
    assert!(
        rate(d.flow_plan(), weak) > rate(&base, weak) + 1.0,
        "{weak:?}: {} t/h → {} t/h",
        rate(&base, weak),
        rate(d.flow_plan(), weak)
    );
}
