//! The localisation EKF against a simulated truck: convergence, dead reckoning through an
//! outage, a multipath jump refused, consistency (NEES) over seeded runs, and honesty
//! against a receiver whose errors wander (not white).

// Gauss–Jordan below indexes rows and columns together.
#![allow(clippy::needless_range_loop)]

use vehicle::localise::{FixOutcome, GnssFix, ImuSample, Localiser, LocaliserConfig};

/// xorshift64* with Box–Muller: a small seeded generator for the test's sensor noise.
struct Rng(u64);
impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let r = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        ((r >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.uniform(), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

const DT: f64 = 0.02;
const GNSS_SIGMA: f64 = 0.02;
const HEADING_SIGMA: f64 = 0.2 * std::f64::consts::PI / 180.0;

/// A truck driving a winding road: accelerates to 10 m/s, its yaw rate a slow sine; with a
/// biased, noisy gyro, a noisy accelerometer, wheel odometry 1.2% off and RTK-class GNSS.
struct Sim {
    rng: Rng,
    t: f64,
    pos: [f64; 2],
    heading: f64,
    speed: f64,
    bias: f64,
    scale: f64,
    /// A Gauss–Markov error on every fix: (correlation time s, 1-sigma m, the error now).
    wander: Option<(f64, f64, [f64; 2])>,
}

impl Sim {
    fn new(seed: u64) -> Sim {
        let mut rng = Rng::new(seed);
        let bias = 0.05_f64.to_radians() * rng.normal();
        Sim {
            rng,
            t: 0.0,
            pos: [100.0, -50.0],
            heading: 0.4,
            speed: 0.0,
            bias,
            scale: 1.012,
            wander: None,
        }
    }

    /// Advances the truth one control step; returns the IMU sample and the wheel speed.
    fn step(&mut self) -> (ImuSample, f64) {
        let accel = if self.t < 8.0 {
            1.25
        } else if (40.0..44.0).contains(&self.t) {
            -1.0
        } else if (44.0..48.0).contains(&self.t) {
            1.0
        } else {
            0.0
        };
        let w = 0.08 * (0.15 * self.t).sin();
        // the truth integrated finer than the filter's model
        let n = 10;
        let h = DT / n as f64;
        // the tyres' side slip, as the simulation's: the body slides outwards at 0.15·v·ω
        let v_lat = -0.15 * self.speed * w;
        for _ in 0..n {
            let (s, c) = self.heading.sin_cos();
            self.pos[0] += (self.speed * c - v_lat * s) * h;
            self.pos[1] += (self.speed * s + v_lat * c) * h;
            self.heading += w * h;
            self.speed += accel * h;
        }
        self.t += DT;
        let c = LocaliserConfig::default();
        let imu = ImuSample {
            yaw_rate: w + self.bias + c.gyro_noise_rad_s * self.rng.normal(),
            accel: accel + c.accel_noise_m_s2 * self.rng.normal(),
            pitch: 0.0,
        };
        let odo = self.scale * self.speed + c.odo_noise_m_s * self.rng.normal();
        (imu, odo)
    }

    fn fix(&mut self) -> GnssFix {
        let (mut off, mut sigma) = ([0.0; 2], GNSS_SIGMA);
        if let Some((tau, s, e)) = &mut self.wander {
            // first-order Gauss–Markov at 10 Hz; the receiver reports its sigma
            let a = (-0.1 / *tau).exp();
            for e in e.iter_mut() {
                *e = a * *e + *s * (1.0 - a * a).sqrt() * self.rng.normal();
            }
            off = *e;
            sigma = *s;
        }
        GnssFix {
            pos: [
                self.pos[0] + GNSS_SIGMA * self.rng.normal() + off[0],
                self.pos[1] + GNSS_SIGMA * self.rng.normal() + off[1],
            ],
            sigma_m: sigma,
            heading: Some((
                self.heading + HEADING_SIGMA * self.rng.normal(),
                HEADING_SIGMA,
            )),
        }
    }

    fn error(&self, l: &Localiser) -> f64 {
        let e = l.estimate();
        (e.pos[0] - self.pos[0]).hypot(e.pos[1] - self.pos[1])
    }
}

/// Runs `seconds`; GNSS every fifth step unless `outage` says otherwise at that time.
fn run(sim: &mut Sim, l: &mut Localiser, seconds: f64, outage: impl Fn(f64) -> bool) {
    let steps = (seconds / DT).round() as usize;
    for _ in 0..steps {
        let (imu, odo) = sim.step();
        l.predict(DT, imu);
        l.update_odometry(odo);
        let k = (sim.t / DT).round() as u64;
        if k.is_multiple_of(5) && !outage(sim.t) {
            let fix = sim.fix();
            l.update_gnss(&fix);
        }
    }
}

fn started(seed: u64) -> (Sim, Localiser) {
    let sim = Sim::new(seed);
    let l = Localiser::new(LocaliserConfig::default(), sim.pos, sim.heading, GNSS_SIGMA);
    (sim, l)
}

#[test]
fn converges_from_an_initial_error() {
    let mut sim = Sim::new(3);
    let cfg = LocaliserConfig {
        init_heading_sigma_rad: 10_f64.to_radians(),
        ..LocaliserConfig::default()
    };
    let start = [sim.pos[0] + 3.0, sim.pos[1] - 2.0];
    let mut l = Localiser::new(cfg, start, sim.heading + 5_f64.to_radians(), 5.0);
    assert!(sim.error(&l) > 3.5);
    run(&mut sim, &mut l, 10.0, |_| false);
    let e = l.estimate();
    assert!(sim.error(&l) < 0.05, "error {} m", sim.error(&l));
    assert!((e.heading - sim.heading).abs() < 0.5_f64.to_radians());
    assert!(
        (e.speed - sim.speed).abs() < 0.1,
        "{} vs {}",
        e.speed,
        sim.speed
    );
    // 2 cm fixes counted as correlated over 0.5 s (about 6.6 cm each): about 5 cm
    assert!(l.pos_sigma_m() < 0.06, "sigma {}", l.pos_sigma_m());
    // the odometry scale and the gyro bias are learnt while driving
    run(&mut sim, &mut l, 50.0, |_| false);
    let e = l.estimate();
    assert!(
        (e.odo_scale - sim.scale).abs() < 0.003,
        "scale {}",
        e.odo_scale
    );
    assert!((e.gyro_bias - sim.bias).abs() < 0.02_f64.to_radians());
}

#[test]
fn dead_reckons_through_a_ten_second_outage() {
    let (mut sim, mut l) = started(5);
    run(&mut sim, &mut l, 60.0, |_| false);
    let sigma0 = l.pos_sigma_m();
    assert!(sim.error(&l) < 0.05);
    let mut worst = 0.0_f64;
    let mut last_sigma = sigma0;
    for _ in 0..10 {
        run(&mut sim, &mut l, 1.0, |_| true);
        worst = worst.max(sim.error(&l));
        assert!(l.pos_sigma_m() > last_sigma, "sigma grows without fixes");
        last_sigma = l.pos_sigma_m();
    }
    eprintln!("outage: sigma {sigma0:.4} → {last_sigma:.4} m, worst error {worst:.4} m");
    assert!(
        worst < 0.5,
        "dead-reckoning error {worst} m after 10 s at 10 m/s"
    );
    assert!(last_sigma > 3.0 * sigma0, "sigma {sigma0} → {last_sigma}");
    assert!(last_sigma < 1.0, "sigma {last_sigma}");
    assert!(
        sim.error(&l) < 3.0 * last_sigma,
        "the estimate stays inside its sigma"
    );
    // fixes return: the first is accepted and sigma falls back
    run(&mut sim, &mut l, 2.0, |_| false);
    assert!(l.pos_sigma_m() < 0.06, "sigma {}", l.pos_sigma_m());
    assert!(sim.error(&l) < 0.05);
    assert_eq!(l.stats().fixes_rejected, 0);
}

#[test]
fn refuses_a_ten_metre_multipath_jump() {
    let (mut sim, mut l) = started(7);
    run(&mut sim, &mut l, 30.0, |_| false);
    for _ in 0..5 {
        let (imu, odo) = sim.step();
        l.predict(DT, imu);
        l.update_odometry(odo);
        let mut fix = sim.fix();
        fix.pos[0] += 6.0;
        fix.pos[1] += 8.0;
        assert!(matches!(l.update_gnss(&fix), FixOutcome::Rejected { .. }));
    }
    assert!(sim.error(&l) < 0.05, "error {}", sim.error(&l));
    assert_eq!(l.stats().fixes_rejected, 5);
    run(&mut sim, &mut l, 1.0, |_| false);
    assert!(matches!(
        l.update_gnss(&sim.fix()),
        FixOutcome::Accepted { .. }
    ));
}

#[test]
fn a_lasting_offset_is_taken_after_the_reject_limit() {
    let (mut sim, mut l) = started(9);
    run(&mut sim, &mut l, 20.0, |_| false);
    let limit = l.config().max_consecutive_rejects;
    let mut outcomes = Vec::new();
    for _ in 0..limit {
        let mut fix = sim.fix();
        fix.pos[0] += 10.0;
        outcomes.push(l.update_gnss(&fix));
    }
    assert!(outcomes[..limit as usize - 1]
        .iter()
        .all(|o| matches!(o, FixOutcome::Rejected { .. })));
    assert_eq!(outcomes.last(), Some(&FixOutcome::Reset));
    assert!((l.estimate().pos[0] - sim.pos[0] - 10.0).abs() < 0.1);
}

/// NEES over `[x, y, ψ, v]` averaged over seeded runs and time. The receiver here is white:
/// the filter is told so (`gnss_correlation_s` 0).
#[test]
fn consistent_over_seeded_runs() {
    const RUNS: usize = 20;
    let mut total = 0.0;
    let mut samples = 0usize;
    let mut per_step_ok = 0usize;
    for seed in 0..RUNS as u64 {
        let sim = Sim::new(100 + seed);
        let cfg = LocaliserConfig {
            gnss_correlation_s: 0.0,
            ..LocaliserConfig::default()
        };
        let mut l = Localiser::new(cfg, sim.pos, sim.heading, GNSS_SIGMA);
        let mut sim = sim;
        run(&mut sim, &mut l, 5.0, |_| false);
        // 60 s with a 10 s outage in the middle, sampled every second
        for _ in 0..60 {
            run(&mut sim, &mut l, 1.0, |t| (30.0..40.0).contains(&t));
            let x = l.state();
            let p = l.covariance();
            let e = [
                x[0] - sim.pos[0],
                x[1] - sim.pos[1],
                site::road::wrap_angle(x[2] - sim.heading),
                x[3] - sim.speed,
            ];
            let nees = quad_inv4(p, &e);
            total += nees;
            samples += 1;
            // 4 dof, 99.9%: 18.47
            if nees < 18.47 {
                per_step_ok += 1;
            }
        }
    }
    let mean = total / samples as f64;
    eprintln!("mean NEES {mean:.2} (4 dof), {per_step_ok} of {samples} inside 99.9%");
    // for a consistent filter the mean NEES is the 4 degrees of freedom
    assert!((2.0..6.5).contains(&mean), "mean NEES {mean}");
    assert!(
        per_step_ok as f64 >= 0.98 * samples as f64,
        "{per_step_ok} of {samples} inside the 99.9% bound"
    );
}

/// `eᵀ P⁻¹ e` over the first four states (Gauss–Jordan on the 4×4 block).
fn quad_inv4(p: &[[f64; 6]; 6], e: &[f64; 4]) -> f64 {
    let mut a = [[0.0; 5]; 4];
    for i in 0..4 {
        for j in 0..4 {
            a[i][j] = p[i][j];
        }
        a[i][4] = e[i];
    }
    for c in 0..4 {
        let piv = (c..4)
            .max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))
            .unwrap_or(c);
        a.swap(c, piv);
        let d = a[c][c];
        assert!(d.abs() > 1e-300, "singular covariance");
        for j in 0..5 {
            a[c][j] /= d;
        }
        for i in 0..4 {
            if i != c {
                let f = a[i][c];
                for j in 0..5 {
                    a[i][j] -= f * a[c][j];
                }
            }
        }
    }
    (0..4).map(|i| e[i] * a[i][4]).sum()
}

/// Share of steps with the horizontal error above 3 sigma against a receiver whose error
/// wanders (Gauss–Markov, 0.5 s, 0.5 m per axis, honestly reported), and with outages.
fn over_3_sigma_share(cfg: LocaliserConfig) -> f64 {
    let (mut over, mut n) = (0usize, 0usize);
    for seed in 0..10 {
        let mut sim = Sim::new(300 + seed);
        sim.wander = Some((0.5, 0.5, [0.0; 2]));
        let mut l = Localiser::new(cfg, sim.pos, sim.heading, 0.5);
        for _ in 0..1200 {
            run(&mut sim, &mut l, 0.1, |t| (60.0..65.0).contains(&t));
            n += 1;
            over += usize::from(sim.error(&l) > 3.0 * l.pos_sigma_m());
        }
    }
    over as f64 / n as f64
}

#[test]
fn honest_against_a_receiver_whose_error_wanders() {
    let honest = over_3_sigma_share(LocaliserConfig::default());
    let white = over_3_sigma_share(LocaliserConfig {
        gnss_correlation_s: 0.0,
        ..LocaliserConfig::default()
    });
    eprintln!(
        "error > 3 sigma: {:.2}% of steps (correlation modelled), {:.2}% (white assumed)",
        100.0 * honest,
        100.0 * white
    );
    // a white filter averages the wandering error away in its sigma, not in its estimate
    assert!(white > 0.05, "white {white}");
    assert!(honest <= 0.01, "honest {honest}");
}

#[test]
fn refusals_widen_the_sigma() {
    let (mut sim, mut l) = started(11);
    run(&mut sim, &mut l, 20.0, |_| false);
    let before = l.pos_sigma_m();
    for _ in 0..10 {
        let mut fix = sim.fix();
        fix.sigma_m = 1.0;
        fix.pos[0] += 8.0;
        assert!(matches!(l.update_gnss(&fix), FixOutcome::Rejected { .. }));
    }
    // ten refusals of a 1 m fix add 10 × 5% of 1 m²
    let after = l.pos_sigma_m();
    assert!(after > 0.65 && after < 0.75, "sigma {before} → {after}");
}
