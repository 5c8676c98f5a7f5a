//! Localisation on the default site: each truck drives on its EKF's estimate; the error stays
//! small in open sky, GNSS degrades measurably at the bottom of the pit, and the same seed
//! gives the same figures.

use sim_world::gnss::{blocked_fraction_at, FixKind, FixQuality, GnssReceiver};
use sim_world::phase::Phase;
use sim_world::report::Report;
use sim_world::{SimConfig, SimWorld};
use site::{SimDuration, Site};
use std::sync::{Arc, OnceLock};

fn site() -> Arc<Site> {
    static SITE: OnceLock<Arc<Site>> = OnceLock::new();
    SITE.get_or_init(|| Arc::new(site::default_site::load().expect("default site")))
        .clone()
}

fn world(trucks: usize, seed: u64, secs: u64) -> SimWorld {
    let cfg = SimConfig {
        trucks,
        seed,
        duration: SimDuration::from_secs(secs),
        ..SimConfig::default()
    };
    SimWorld::new(site(), cfg).expect("world")
}

fn p99(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 * 0.99) as usize).min(v.len() - 1)]
}

/// Samples of one area: EKF error and sigma per control step; fix epochs and outages.
#[derive(Default)]
struct Area {
    errors: Vec<f64>,
    sigma_sum: f64,
    receiver_sigma_sum: f64,
    epochs: u64,
    no_fix: u64,
}

#[test]
fn open_sky_error_is_small_and_the_pit_bottom_degrades() {
    let site = site();
    let rim_z = site.terrain_spec.rim_z;
    let depth = site.terrain_spec.pit.depth_m;
    let mut w = world(16, 3, 600);
    let (mut open, mut rim, mut deep) = (Area::default(), Area::default(), Area::default());
    let mut last_no_fix = vec![0u64; w.trucks.len()];
    let mut last_epochs = vec![0u64; w.trucks.len()];
    while w.now.as_secs_f64() < 600.0 {
        // the estimate of this step's control against the truth it sensed
        w.run_phase(Phase::Control);
        let truth: Vec<_> = w.trucks.iter().map(|t| w.physics.state(t.body)).collect();
        for phase in &Phase::ORDER[1..] {
            w.run_phase(*phase);
        }
        for (i, t) in w.trucks.iter().enumerate() {
            let st = &truth[i];
            let Some(loc) = t.localiser() else { continue };
            let e = loc.estimate();
            let err = (e.pos[0] - st.pos[0]).hypot(e.pos[1] - st.pos[1]);
            let m = &t.metrics.localisation;
            let epochs: u64 = m.epochs_by_kind.iter().sum();
            let new_epoch = epochs - last_epochs[i];
            let new_no_fix = m.no_fix_epochs - last_no_fix[i];
            last_epochs[i] = epochs;
            last_no_fix[i] = m.no_fix_epochs;
            let q = FixQuality::at(t.sky_blocked, w.cfg.gnss_noise_m);
            let add = |a: &mut Area| {
                a.errors.push(err);
                a.sigma_sum += loc.pos_sigma_m();
                a.receiver_sigma_sum += q.sigma_m * new_epoch as f64;
                a.epochs += new_epoch;
                a.no_fix += new_no_fix;
            };
            if q.kind == FixKind::RtkFixed {
                add(&mut open);
            }
            if st.pos[2] > rim_z - 5.0 {
                add(&mut rim);
            }
            if st.pos[2] < rim_z - 0.6 * depth {
                add(&mut deep);
            }
        }
    }
    let summary = |name: &str, a: &mut Area| {
        let n = a.errors.len().max(1) as f64;
        let mean_sigma = a.sigma_sum / n;
        let rx = a.receiver_sigma_sum / a.epochs.max(1) as f64;
        let outage = a.no_fix as f64 / a.epochs.max(1) as f64;
        let p = if a.errors.is_empty() {
            0.0
        } else {
            p99(&mut a.errors)
        };
        eprintln!(
            "{name}: {} samples, error p99 {p:.3} m, EKF sigma mean {mean_sigma:.3} m, receiver sigma mean {rx:.3} m, no fix {:.1}% of epochs",
            a.errors.len(),
            outage * 100.0
        );
        (p, mean_sigma, rx, outage)
    };
    let (open_p99, _, _, open_outage) = summary("open sky (RTK fixed)", &mut open);
    let (_, rim_sigma, rim_rx, rim_outage) = summary("rim", &mut rim);
    let (_, deep_sigma, deep_rx, deep_outage) = summary("deep (> 60% of the depth)", &mut deep);
    let r = Report::build(&w, 1.0);
    eprintln!("fleet: {:?}", r.localisation);
    assert!(open.errors.len() > 10_000 && rim.errors.len() > 10_000);
    assert!(
        deep.errors.len() > 1_000,
        "trucks reached the deep pit: {}",
        deep.errors.len()
    );
    assert!(open_p99 < 0.3, "open-sky error p99 {open_p99} m");
    assert_eq!(open_outage, 0.0);
    assert_eq!(rim_outage, 0.0);
    // at the bottom the receiver is worse, and so is the filter
    assert!(
        deep_rx > 3.0 * rim_rx,
        "receiver sigma deep {deep_rx} vs rim {rim_rx}"
    );
    assert!(
        deep_sigma > 1.5 * rim_sigma,
        "EKF sigma deep {deep_sigma} vs rim {rim_sigma}"
    );
    assert!(
        deep_outage > rim_outage,
        "outages deep {deep_outage} vs rim {rim_outage}"
    );
    // the report says the same
    assert!(r.localisation.p99_error_m > 0.0 && r.localisation.p99_error_m < 1.0);
    assert!(r.localisation.no_fix_s > 0.0);
    assert!(r.localisation.rejected_fixes > 0, "multipath refused");
    // the sigma the trucks drive on is honest: the error passes 3 sigma in at most 1% of the
    // steps, under the walls too (the filter that trusted its fixes as white: 1.1% there)
    let (all, walls) = (&r.localisation.consistency, &r.localisation.under_walls);
    assert!(
        walls.time_s > 100.0,
        "time under the walls {}",
        walls.time_s
    );
    assert!(all.over_3_sigma_pct <= 1.0, "{all:?}");
    assert!(walls.over_3_sigma_pct <= 1.0, "{walls:?}");
    assert!(walls.p99_error_over_sigma < 3.0, "{walls:?}");
    // the trucks still work and nothing hit anything
    assert_eq!(r.collisions, 0);
    assert_eq!(r.permission_violations, 0);
    assert!(r.loads > 0);
}

/// The sky itself: the rim sees all of it, the loading faces cut into the pit walls little.
#[test]
fn the_walls_block_the_sky_at_the_faces_not_on_the_rim() {
    let site = site();
    let hf = &site.terrain;
    let mut rx = GnssReceiver::new(1, 0);
    for d in &site.dumps {
        let p = site.roads.lane(d.lane).point_at(d.spots_s[0]).pos;
        assert_eq!(blocked_fraction_at(hf, p[0], p[1]), 0.0, "{}", d.name);
    }
    let mut worst = 0.0_f64;
    let mut deepest_face = None;
    for l in &site.loaders {
        let p = site.roads.lane(l.lane).point_at(l.spot_s).pos;
        let b = blocked_fraction_at(hf, p[0], p[1]);
        worst = worst.max(b);
        if b > 0.75 {
            deepest_face = Some(p);
        }
    }
    assert!(worst > 0.75, "some face is under a high wall: {worst}");
    let p = deepest_face.expect("a face under a high wall");
    let q = FixQuality::at(blocked_fraction_at(hf, p[0], p[1]), 0.02);
    let none = (0..6000)
        .filter(|_| rx.epoch([p[0], p[1]], 0.0, &q).is_none())
        .count();
    eprintln!("face at {p:?}: {q:?}, {none} of 6000 epochs without a fix");
    assert!(none > 600);
}

#[test]
fn same_seed_same_localisation() {
    let run = |seed| {
        let mut w = world(6, seed, 60);
        while w.now.as_secs_f64() < 60.0 {
            w.step();
        }
        let r = Report::build(&w, 1.0);
        let per: Vec<_> = r.per_truck.iter().map(|t| t.localisation.clone()).collect();
        let est: Vec<_> = w
            .trucks
            .iter()
            .filter_map(|t| t.localiser().map(|l| l.state()))
            .collect();
        (r.localisation, per, est)
    };
    let a = run(4);
    assert_eq!(a, run(4));
    assert_ne!(a.2, run(5).2);
}
