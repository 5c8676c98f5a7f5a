//! The dispatcher never grants overlapping road: random fleets on the generated site, driven
//! kinematically right up to their grants, with claims checked after every tick.

use fleet::{Dispatcher, DispatcherConfig};
use proptest::prelude::*;
use site::generate::{generate, GenParams};
use site::ids::TruckId;
use site::protocol::{DispatchMsg, MissionState, Task, Telemetry, TruckInfo, TruckMsg, UpMsg};
use site::route::RoutePath;
use site::{SimDuration, SimTime, Site};
use std::sync::{Arc, OnceLock};

fn site() -> Arc<Site> {
    static SITE: OnceLock<Arc<Site>> = OnceLock::new();
    SITE.get_or_init(|| {
        Arc::new(
            site::file::build("generated", &generate(&GenParams::default()))
                .expect("default site builds"),
        )
    })
    .clone()
}

struct Sim {
    route: Option<RoutePath>,
    task: Option<Task>,
    progress: f64,
    until: f64,
    speed: f64,
    /// Speed over the last step (what telemetry reports).
    actual: f64,
    pos: [f64; 2],
    heading: f64,
    wait: f64,
    seq: u64,
    reported: bool,
}

fn run(n: usize, speeds: &[f64], seconds: f64) -> (usize, u64) {
    let site = site();
    let mut d = Dispatcher::new(site.clone(), DispatcherConfig::default());
    let slots = site.spread_slots(n).expect("room");
    let mut sims: Vec<Sim> = slots
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let p = site.roads.lane(s.lane).point_at(s.s);
            Sim {
                route: None,
                task: None,
                progress: 0.0,
                until: 0.0,
                speed: speeds[i % speeds.len()],
                actual: 0.0,
                pos: [p.pos[0], p.pos[1]],
                heading: p.heading,
                wait: 0.0,
                seq: 0,
                reported: false,
            }
        })
        .collect();
    let dt = 0.1;
    let mut now = SimTime::ZERO;
    let info = TruckInfo {
        length_m: 15.5,
        width_m: 9.5,
        capacity_t: 290.0,
    };
    let mut checks = 0usize;
    let mut jobs = 0u64;
    while now.as_secs_f64() < seconds {
        // trucks report
        for (i, s) in sims.iter_mut().enumerate() {
            let id = TruckId(i as u32);
            let mut out = Vec::new();
            if now == SimTime::ZERO {
                out.push(TruckMsg::Hello(info));
                out.push(TruckMsg::WorkRequest);
            }
            out.push(TruckMsg::Telemetry(Telemetry {
                pos: [s.pos[0], s.pos[1], 0.0],
                heading: s.heading,
                speed: s.actual,
                route: s.route.as_ref().map(|r| r.route.id),
                progress_m: s.progress,
                payload_t: 0.0,
                state: MissionState::Hauling,
            }));
            if let (Some(r), Some(task)) = (&s.route, s.task) {
                if r.length - s.progress < 0.6 && !s.reported {
                    s.wait += dt;
                    if s.wait > 3.0 {
                        s.reported = true;
                        jobs += 1;
                        match task {
                            Task::Load { loader } => out.push(TruckMsg::LoadDone {
                                loader,
                                tonnes: 290.0,
                            }),
                            Task::Dump { dump } => {
                                out.push(TruckMsg::DumpDone {
                                    dump,
                                    tonnes: 290.0,
                                });
                                out.push(TruckMsg::WorkRequest);
                            }
                            Task::Park => {}
                        }
                    }
                }
            }
            for body in out {
                s.seq += 1;
                d.handle(
                    now,
                    &UpMsg {
                        truck: id,
                        seq: s.seq,
                        sent: now,
                        body,
                    },
                );
            }
        }
        d.tick(now);
        for m in d.poll_outbox() {
            let s = &mut sims[m.truck.index()];
            match m.body {
                DispatchMsg::Assignment { task, route } => {
                    let r =
                        RoutePath::new(route, &site.roads).expect("dispatcher routes are valid");
                    let (p, _) = r.project(s.pos, 0.0, 80.0, &site.roads);
                    s.progress = p;
                    s.until = p;
                    s.route = Some(r);
                    s.task = Some(task);
                    s.wait = 0.0;
                    s.reported = false;
                }
                DispatchMsg::Permission(g)
                    if s.route.as_ref().map(|r| r.route.id) == Some(g.route) =>
                {
                    s.until = g.until_m;
                }
                _ => {}
            }
        }
        // the invariant, after every tick
        let views: Vec<_> = d.trucks().values().collect();
        for a in 0..views.len() {
            for b in a + 1..views.len() {
                assert!(
                    !views[a].claim.overlaps(&views[b].claim, &site),
                    "claims overlap at {now}: {:?} / {:?}",
                    views[a].claim,
                    views[b].claim
                );
                checks += 1;
            }
        }
        // trucks drive right up to their grant
        for s in &mut sims {
            if let Some(r) = &s.route {
                let step = (s.speed * dt).min((s.until.min(r.length) - s.progress).max(0.0));
                s.progress += step;
                s.actual = step / dt;
                let p = r.point_at(s.progress, &site.roads);
                s.pos = [p.pos[0], p.pos[1]];
                s.heading = p.heading;
            }
        }
        now += SimDuration::from_millis(100);
    }
    (checks, jobs)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4, ..ProptestConfig::default() })]
    #[test]
    fn never_grants_overlapping_road(
        n in 20usize..60,
        speeds in proptest::collection::vec(3.0f64..16.0, 1..8),
    ) {
        let (checks, jobs) = run(n, &speeds, 400.0);
        prop_assert!(checks > 0);
        // the fleet did work, so the property was tested on moving traffic
        prop_assert!(jobs >= 5, "only {jobs} loads/dumps");
    }
}
