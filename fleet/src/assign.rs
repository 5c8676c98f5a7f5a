//! Assignment policies: which loader (and which dump after it) a truck that asks for work is
//! sent to.
//!
//! Three policies, chosen per run ([`Policy`]):
//!
//! - [`Policy::Nearest`]: the loader where the truck could start loading soonest, counting
//!   its travel time and the trucks already sent there; the haul to the dump of the load's
//!   material it reaches soonest. The first-wave rule, kept as a baseline.
//! - [`Policy::Fixed`]: every truck belongs to one loader for the shift (truck `k` of the
//!   roster, in id order, to loader `k mod L`), the way a shift boss allocates trucks to
//!   shovels on a board; hauls as for `Nearest`.
//! - [`Policy::Lp`]: in the manner of Modular Mining's DISPATCH. A linear program
//!   ([`solve`], `good_lp` with the pure-Rust `microlp` solver) gives the best flow rate on
//!   every loaded path (loader → dump) and empty path (dump → loader) under the loaders'
//!   and dumps' capacities, the trucks there are, the crusher's feed-rate target and the
//!   loaders' priorities; then each truck that asks for work is sent on the path furthest
//!   behind its rate ([`Allocator`]), and after loading, to that path's dump.
//!
//! **The linear program.** Variables: `x[i][j] ≥ 0`, loads per hour on the loaded path from
//! loader `i` to dump `j` (only where `j` takes `i`'s material), and `y[j][i] ≥ 0`, trips per
//! hour on the empty path from dump `j` back to loader `i`. With `L_i` the time a load takes
//! at loader `i` (its passes plus spotting), `D_j` a dump's time per truck at one spot, `T^x`
//! and `T^y` the legs' travel times ([`LegTimes`]), `N` the trucks available and `P` a
//! truck's payload:
//!
//! ```text
//! maximise   Σ w_i·P·x_ij − ε·(truck-hours used)
//! subject to Σ_j x_ij ≤ 3600 / L_i                      (loader i's capacity)
//!            Σ_i x_ij ≤ spots_j · 3600 / D_j            (dump j's capacity)
//!            Σ_j y_ji = Σ_j x_ij                        (every load at i needs a truck back to i)
//!            Σ_i y_ji = Σ_i x_ij                        (every truck that tips at j leaves j)
//!            Σ x_ij·(L_i + T^x_ij + D_j) + Σ y_ji·T^y_ji ≤ 3600·N   (truck-hours per hour)
//!            P·Σ_i x_i,crusher ≤ crusher target (t/h)    (when one is set)
//! ```
//!
//! `w_i` is loader `i`'s priority (1 unless an operator sets it); the small `ε` makes the
//! solution among equally productive ones the one that needs the fewest trucks. A loader
//! out of service has capacity 0.
//!
//! **Real-time assignment** ([`Allocator::choose`]): every loaded path `p` with a rate
//! `r_p > 0` wants a truck every `I_p = 3600 / r_p` seconds. `slot_p` is when the last truck
//! sent on `p` gets its turn at the loader. A truck that would reach the loader at
//! `arrive = now + travel` is *late* for `p` by `arrive − (slot_p + I_p)`: positive when the
//! path will have waited for it, negative when it would queue. The truck goes on the latest
//! path (ties: the shorter trip, then the lower loader and dump ids), and its turn becomes
//! `slot_p = max(slot_p + I_p, arrive)`: a truck that arrives early waits for the one before
//! it. A path no truck has been sent on yet is the latest of all, so the first trucks go
//! where they arrive soonest. This is the dispatch-time form of DISPATCH's "neediest path":
//! a far path must be sent its trucks earlier to be fed on time. Re-solving the program
//! changes the rates, not the `slot_p`, so a new plan takes over smoothly.
//!
//! **Travel times are learned** ([`LegTimes`]): each leg starts from the router's free-flow
//! time (every lane at its speed limit) and, once trucks have driven it, follows the times
//! they took (an exponentially weighted mean); legs nobody has driven yet are scaled by the
//! mean ratio of observed to free-flow time over the legs that have been.

use good_lp::{variable, Expression, ProblemVariables, Solution, SolverModel, Variable};
use site::ids::{DumpId, LoaderId};
use site::{DumpKind, Material};
use std::collections::BTreeMap;

/// How trucks that ask for work are assigned (module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// Linear program for the path rates, then the path furthest behind.
    Lp,
    /// Each truck to one loader for the whole shift.
    Fixed,
    /// The loader where the truck starts loading soonest.
    #[default]
    Nearest,
}

impl Policy {
    pub const ALL: [Policy; 3] = [Policy::Lp, Policy::Fixed, Policy::Nearest];

    pub fn name(self) -> &'static str {
        match self {
            Policy::Lp => "lp",
            Policy::Fixed => "fixed",
            Policy::Nearest => "nearest",
        }
    }
}

impl std::fmt::Display for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Policy {
    type Err = String;
    fn from_str(s: &str) -> Result<Policy, String> {
        Policy::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| format!("unknown dispatch policy {s:?} (expected lp, fixed or nearest)"))
    }
}

/// Weight of a new observation in a leg's mean.
const LEG_ALPHA: f64 = 0.25;

/// One leg's travel time: the router's free-flow time and what trucks took.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Leg {
    /// Free-flow time at the speed limits, s.
    pub free_s: f64,
    /// Exponentially weighted mean of the observed times, s.
    pub observed_s: Option<f64>,
    /// Observations so far.
    pub n: u32,
}

/// The travel times of every loaded leg (loader → dump) and empty leg (dump → loader).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LegTimes {
    pub loaded: BTreeMap<(LoaderId, DumpId), Leg>,
    pub empty: BTreeMap<(DumpId, LoaderId), Leg>,
}

impl LegTimes {
    /// Sets a leg's free-flow time (the prior before anyone has driven it).
    pub fn set_loaded_free(&mut self, l: LoaderId, d: DumpId, free_s: f64) {
        Self::set_free(&mut self.loaded, (l, d), free_s);
    }

    pub fn set_empty_free(&mut self, d: DumpId, l: LoaderId, free_s: f64) {
        Self::set_free(&mut self.empty, (d, l), free_s);
    }

    fn set_free<K: Ord>(map: &mut BTreeMap<K, Leg>, k: K, free_s: f64) {
        map.entry(k)
            .and_modify(|leg| leg.free_s = free_s)
            .or_insert(Leg {
                free_s,
                observed_s: None,
                n: 0,
            });
    }

    /// A truck drove loaded from `l` to `d` in `s` seconds.
    pub fn observe_loaded(&mut self, l: LoaderId, d: DumpId, s: f64) {
        Self::observe(&mut self.loaded, (l, d), s);
    }

    /// A truck drove empty from `d` to `l` in `s` seconds.
    pub fn observe_empty(&mut self, d: DumpId, l: LoaderId, s: f64) {
        Self::observe(&mut self.empty, (d, l), s);
    }

    fn observe<K: Ord>(map: &mut BTreeMap<K, Leg>, k: K, s: f64) {
        if !(s.is_finite() && s > 0.0) {
            return;
        }
        let leg = map.entry(k).or_insert(Leg {
            free_s: s,
            observed_s: None,
            n: 0,
        });
        leg.observed_s = Some(match leg.observed_s {
            Some(m) => m + LEG_ALPHA * (s - m),
            None => s,
        });
        leg.n = leg.n.saturating_add(1);
    }

    /// Mean ratio of observed to free-flow time over every leg driven so far (1 if none).
    pub fn slowdown(&self) -> f64 {
        let (mut sum, mut n) = (0.0, 0usize);
        for leg in self.loaded.values().chain(self.empty.values()) {
            if let Some(o) = leg.observed_s {
                if leg.free_s > 0.0 {
                    sum += o / leg.free_s;
                    n += 1;
                }
            }
        }
        if n == 0 {
            1.0
        } else {
            sum / n as f64
        }
    }

    fn estimate(leg: Option<&Leg>, slowdown: f64) -> Option<f64> {
        leg.map(|l| l.observed_s.unwrap_or(l.free_s * slowdown))
    }

    /// The expected time of a loaded leg, s (`None`: no such leg).
    pub fn loaded_s(&self, l: LoaderId, d: DumpId) -> Option<f64> {
        Self::estimate(self.loaded.get(&(l, d)), self.slowdown())
    }

    /// The expected time of an empty leg, s.
    pub fn empty_s(&self, d: DumpId, l: LoaderId) -> Option<f64> {
        Self::estimate(self.empty.get(&(d, l)), self.slowdown())
    }
}

/// A loader as the program sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LoaderCap {
    pub material: Material,
    /// Time one truck takes at the loader (passes and spotting), s.
    pub load_s: f64,
    /// Weight of its tonnes in the objective (1 by default).
    pub priority: f64,
    /// In service.
    pub available: bool,
}

/// A dump as the program sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DumpCap {
    pub kind: DumpKind,
    pub spots: usize,
    /// Time one truck takes at one spot (manoeuvre and tip), s.
    pub per_truck_s: f64,
}

/// Everything the program is solved for.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowInputs {
    pub loaders: Vec<LoaderCap>,
    pub dumps: Vec<DumpCap>,
    pub legs: LegTimes,
    /// Trucks available for work.
    pub trucks: usize,
    /// A truck's payload, t.
    pub payload_t: f64,
    /// The crusher's feed-rate target, t/h (a ceiling on ore tipped at crushers).
    pub crusher_tph: Option<f64>,
}

/// The program's solution: the rate on every path.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FlowPlan {
    /// Loads per hour on each loaded path.
    pub loaded: BTreeMap<(LoaderId, DumpId), f64>,
    /// Trips per hour on each empty path.
    pub empty: BTreeMap<(DumpId, LoaderId), f64>,
    /// Tonnes per hour the plan moves.
    pub tph: f64,
    /// Trucks the plan keeps busy (of [`FlowInputs::trucks`]).
    pub trucks_needed: f64,
}

impl FlowPlan {
    /// Tonnes per hour the plan takes from loader `l`.
    pub fn loader_tph(&self, l: LoaderId, payload_t: f64) -> f64 {
        self.loaded
            .iter()
            .filter(|((li, _), _)| *li == l)
            .map(|(_, r)| r * payload_t)
            .sum()
    }
}

/// Why a program could not be solved.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum AssignError {
    #[error("flow program input: {0}")]
    Input(String),
    #[error("flow program: the solver failed: {0}")]
    Solver(String),
}

/// Tie-break weight on truck-hours in the objective (t/h per truck-hour per hour).
const TRUCK_HOUR_EPS: f64 = 1e-3;

/// Solves the flow program (module docs) for the best rate on every path.
pub fn solve(inp: &FlowInputs) -> Result<FlowPlan, AssignError> {
    let bad = |what: String| Err(AssignError::Input(what));
    if !(inp.payload_t.is_finite() && inp.payload_t > 0.0) {
        return bad(format!(
            "payload {} t is not a positive number",
            inp.payload_t
        ));
    }
    if let Some(c) = inp.crusher_tph {
        if !(c.is_finite() && c >= 0.0) {
            return bad(format!("crusher target {c} t/h is not a number ≥ 0"));
        }
    }
    for (i, l) in inp.loaders.iter().enumerate() {
        if !(l.load_s.is_finite() && l.load_s > 0.0) {
            return bad(format!("loader {i}: load time {} s", l.load_s));
        }
        if !(l.priority.is_finite() && l.priority >= 0.0) {
            return bad(format!("loader {i}: priority {}", l.priority));
        }
    }
    for (j, d) in inp.dumps.iter().enumerate() {
        if !(d.per_truck_s.is_finite() && d.per_truck_s > 0.0) {
            return bad(format!("dump {j}: time per truck {} s", d.per_truck_s));
        }
    }
    let slowdown = inp.legs.slowdown();
    let mut vars = ProblemVariables::new();
    // Loaded paths: (loader, dump, variable, cycle seconds but the empty leg).
    let mut xs: Vec<(usize, usize, Variable, f64)> = Vec::new();
    for (i, l) in inp.loaders.iter().enumerate() {
        for (j, d) in inp.dumps.iter().enumerate() {
            if !d.kind.accepts(l.material) || !l.available || d.spots == 0 {
                continue;
            }
            let key = (LoaderId(i as u32), DumpId(j as u32));
            let Some(t) = LegTimes::estimate(inp.legs.loaded.get(&key), slowdown) else {
                continue;
            };
            let v = vars.add(variable().min(0.0));
            xs.push((i, j, v, l.load_s + t + d.per_truck_s));
        }
    }
    // Empty paths: (dump, loader, variable, travel seconds).
    let mut ys: Vec<(usize, usize, Variable, f64)> = Vec::new();
    for j in 0..inp.dumps.len() {
        for (i, l) in inp.loaders.iter().enumerate() {
            if !l.available {
                continue;
            }
            let key = (DumpId(j as u32), LoaderId(i as u32));
            let Some(t) = LegTimes::estimate(inp.legs.empty.get(&key), slowdown) else {
                continue;
            };
            let v = vars.add(variable().min(0.0));
            ys.push((j, i, v, t));
        }
    }
    if xs.is_empty() {
        return Ok(FlowPlan::default());
    }
    let mut truck_s = Expression::from(0.0);
    for &(_, _, v, c) in &xs {
        truck_s += c * v;
    }
    for &(_, _, v, t) in &ys {
        truck_s += t * v;
    }
    let mut objective = Expression::from(0.0);
    for &(i, _, v, _) in &xs {
        objective += inp.loaders[i].priority * inp.payload_t * v;
    }
    objective -= (TRUCK_HOUR_EPS / 3600.0) * truck_s.clone();
    let mut model = vars.maximise(objective).using(good_lp::microlp);
    for (i, l) in inp.loaders.iter().enumerate() {
        let out: Expression = xs.iter().filter(|e| e.0 == i).map(|e| e.2).sum();
        let back: Expression = ys.iter().filter(|e| e.1 == i).map(|e| e.2).sum();
        model = model.with(out.clone().leq(3600.0 / l.load_s));
        model = model.with(back.eq(out));
    }
    for (j, d) in inp.dumps.iter().enumerate() {
        let tipped: Expression = xs.iter().filter(|e| e.1 == j).map(|e| e.2).sum();
        let leave: Expression = ys.iter().filter(|e| e.0 == j).map(|e| e.2).sum();
        model = model.with(tipped.clone().leq(d.spots as f64 * 3600.0 / d.per_truck_s));
        model = model.with(leave.eq(tipped.clone()));
        if let (DumpKind::Crusher, Some(c)) = (d.kind, inp.crusher_tph) {
            model = model.with((inp.payload_t * tipped).leq(c));
        }
    }
    model = model.with(truck_s.leq(3600.0 * inp.trucks as f64));
    let sol = model
        .solve()
        .map_err(|e| AssignError::Solver(e.to_string()))?;
    let mut plan = FlowPlan::default();
    let mut busy_s = 0.0;
    for &(i, j, v, c) in &xs {
        let r = sol.value(v).max(0.0);
        if r > 1e-9 {
            plan.loaded
                .insert((LoaderId(i as u32), DumpId(j as u32)), r);
            plan.tph += r * inp.payload_t;
            busy_s += r * c;
        }
    }
    for &(j, i, v, t) in &ys {
        let r = sol.value(v).max(0.0);
        if r > 1e-9 {
            plan.empty.insert((DumpId(j as u32), LoaderId(i as u32)), r);
            busy_s += r * t;
        }
    }
    plan.trucks_needed = busy_s / 3600.0;
    Ok(plan)
}

/// Real-time assignment on a [`FlowPlan`]: the path furthest behind its rate.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Allocator {
    plan: FlowPlan,
    /// When the last truck sent on each path gets its turn at the loader, s of simulated time.
    slot: BTreeMap<(LoaderId, DumpId), f64>,
}

impl Allocator {
    pub fn plan(&self) -> &FlowPlan {
        &self.plan
    }

    /// Adopts a new plan; the paths' history stays.
    pub fn set_plan(&mut self, plan: FlowPlan) {
        self.plan = plan;
    }

    /// The path a truck goes on, given `now` (s) and its travel time to each loader it can
    /// reach (`travel(l)`, `None` where it cannot); `None` if no path with a rate is
    /// reachable. Records the choice.
    pub fn choose(
        &mut self,
        now: f64,
        travel: impl Fn(LoaderId) -> Option<f64>,
    ) -> Option<(LoaderId, DumpId)> {
        // (lateness, travel, path, the truck's turn there)
        let mut best: Option<(f64, f64, (LoaderId, DumpId), f64)> = None;
        for (&(l, d), &rate) in &self.plan.loaded {
            if rate <= 0.0 {
                continue;
            }
            let Some(t) = travel(l) else { continue };
            let arrive = now + t;
            let (lateness, turn) = match self.slot.get(&(l, d)) {
                Some(&slot) => {
                    let due = slot + 3600.0 / rate;
                    (arrive - due, due.max(arrive))
                }
                None => (f64::INFINITY, arrive),
            };
            let better = match best {
                None => true,
                Some((bl, bt, ..)) => lateness > bl || (lateness == bl && t < bt),
            };
            if better {
                best = Some((lateness, t, (l, d), turn));
            }
        }
        let (_, _, path, turn) = best?;
        self.slot.insert(path, turn);
        Some(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loader(material: Material, load_s: f64) -> LoaderCap {
        LoaderCap {
            material,
            load_s,
            priority: 1.0,
            available: true,
        }
    }

    /// Two ore loaders, one near (300 s each way) and one far (900 s), one crusher.
    fn two_loaders(trucks: usize) -> FlowInputs {
        let mut legs = LegTimes::default();
        legs.set_loaded_free(LoaderId(0), DumpId(0), 300.0);
        legs.set_empty_free(DumpId(0), LoaderId(0), 300.0);
        legs.set_loaded_free(LoaderId(1), DumpId(0), 900.0);
        legs.set_empty_free(DumpId(0), LoaderId(1), 900.0);
        FlowInputs {
            loaders: vec![loader(Material::Ore, 180.0), loader(Material::Ore, 180.0)],
            dumps: vec![DumpCap {
                kind: DumpKind::Crusher,
                spots: 2,
                per_truck_s: 60.0,
            }],
            legs,
            trucks,
            payload_t: 100.0,
            crusher_tph: None,
        }
    }

    #[test]
    fn few_trucks_go_to_the_near_loader_first() {
        // Near cycle 180 + 300 + 60 + 300 = 840 s; 3 trucks keep it at 3600·3/840 = 12.86
        // loads/h, under its 20/h.
        let p = solve(&two_loaders(3)).expect("solves");
        let near = p.loaded[&(LoaderId(0), DumpId(0))];
        assert!((near - 3600.0 * 3.0 / 840.0).abs() < 1e-6, "{p:?}");
        assert!(!p.loaded.contains_key(&(LoaderId(1), DumpId(0))), "{p:?}");
        assert!((p.trucks_needed - 3.0).abs() < 1e-6);
    }

    #[test]
    fn spare_trucks_go_to_the_far_loader_once_the_near_one_is_full() {
        // Near full at 20/h needs 20·840/3600 = 4.67 trucks; the far cycle is 2040 s.
        let p = solve(&two_loaders(8)).expect("solves");
        let near = p.loaded[&(LoaderId(0), DumpId(0))];
        let far = p.loaded[&(LoaderId(1), DumpId(0))];
        assert!((near - 20.0).abs() < 1e-6, "{p:?}");
        let spare = 8.0 - 20.0 * 840.0 / 3600.0;
        assert!((far - 3600.0 * spare / 2040.0).abs() < 1e-6, "{p:?}");
        assert!((p.tph - 100.0 * (near + far)).abs() < 1e-6);
        // every load is matched by an empty trip back to its loader
        assert!((p.empty[&(DumpId(0), LoaderId(1))] - far).abs() < 1e-6);
    }

    #[test]
    fn a_crusher_target_caps_the_ore_flow_and_frees_trucks() {
        let mut inp = two_loaders(40);
        inp.crusher_tph = Some(1500.0);
        let p = solve(&inp).expect("solves");
        assert!((p.tph - 1500.0).abs() < 1e-6, "{p:?}");
        // the cheapest way to 15 loads/h is the near loader alone
        assert!((p.loaded[&(LoaderId(0), DumpId(0))] - 15.0).abs() < 1e-6);
        assert!(p.trucks_needed < 40.0);
    }

    #[test]
    fn priority_moves_trucks_to_the_favoured_loader() {
        let mut inp = two_loaders(5);
        inp.loaders[1].priority = 3.0;
        let p = solve(&inp).expect("solves");
        // per truck-second the far loader now gives 3·100/2040 > 100/840: all 5 trucks go
        // there (it could take 11.3)
        let far = p.loaded[&(LoaderId(1), DumpId(0))];
        assert!((far - 3600.0 * 5.0 / 2040.0).abs() < 1e-6, "{p:?}");
        assert!(!p.loaded.contains_key(&(LoaderId(0), DumpId(0))), "{p:?}");
    }

    #[test]
    fn a_loader_out_of_service_gets_nothing() {
        let mut inp = two_loaders(8);
        inp.loaders[0].available = false;
        let p = solve(&inp).expect("solves");
        assert!(!p.loaded.contains_key(&(LoaderId(0), DumpId(0))), "{p:?}");
        assert!(p.loaded[&(LoaderId(1), DumpId(0))] > 0.0);
    }

    #[test]
    fn material_goes_only_where_it_is_taken() {
        let mut inp = two_loaders(8);
        inp.loaders[1].material = Material::Waste;
        let p = solve(&inp).expect("solves");
        assert!(!p.loaded.contains_key(&(LoaderId(1), DumpId(0))), "{p:?}");
    }

    #[test]
    fn bad_inputs_are_refused_with_a_reason() {
        let mut inp = two_loaders(3);
        inp.loaders[0].load_s = f64::NAN;
        let e = solve(&inp).expect_err("NaN load time");
        assert!(e.to_string().contains("loader 0"), "{e}");
        let mut inp = two_loaders(3);
        inp.payload_t = 0.0;
        assert!(solve(&inp).is_err());
    }

    #[test]
    fn learned_times_replace_the_free_flow_ones() {
        let mut legs = LegTimes::default();
        legs.set_loaded_free(LoaderId(0), DumpId(0), 100.0);
        legs.set_loaded_free(LoaderId(1), DumpId(0), 200.0);
        assert_eq!(legs.loaded_s(LoaderId(0), DumpId(0)), Some(100.0));
        legs.observe_loaded(LoaderId(0), DumpId(0), 150.0);
        legs.observe_loaded(LoaderId(0), DumpId(0), 250.0);
        // 150 + 0.25·(250 − 150)
        assert_eq!(legs.loaded_s(LoaderId(0), DumpId(0)), Some(175.0));
        // the undriven leg is scaled by the observed slowdown, 1.75
        assert_eq!(legs.loaded_s(LoaderId(1), DumpId(0)), Some(350.0));
        legs.observe_loaded(LoaderId(1), DumpId(0), f64::NAN);
        assert_eq!(legs.loaded[&(LoaderId(1), DumpId(0))].n, 0);
    }

    /// An allocator on a plan of loaders 0 and 1 to dump 0 at these rates (loads/h).
    fn allocator(rates: [f64; 2]) -> Allocator {
        let mut plan = FlowPlan::default();
        for (l, r) in rates.into_iter().enumerate() {
            plan.loaded.insert((LoaderId(l as u32), DumpId(0)), r);
        }
        let mut a = Allocator::default();
        a.set_plan(plan);
        a
    }

    #[test]
    fn the_allocator_keeps_each_path_at_its_rate() {
        let mut a = allocator([20.0, 10.0]);
        let mut sent = [0u32; 2];
        // a truck asks every 120 s (30/h, the plan's total), 300 s from either loader
        for k in 0..300 {
            let (l, _) = a.choose(k as f64 * 120.0, |_| Some(300.0)).expect("a path");
            sent[l.index()] += 1;
        }
        assert!(
            sent[0].abs_diff(200) <= 2 && sent[1].abs_diff(100) <= 2,
            "{sent:?}"
        );
    }

    #[test]
    fn a_burst_of_trucks_is_queued_over_the_paths_by_their_rates() {
        // 30 trucks ask at once (the start of a shift); rates 20/h and 10/h: the loaders'
        // queues are filled in proportion, each truck to the turn that comes soonest.
        let mut a = allocator([20.0, 10.0]);
        let mut sent = [0u32; 2];
        for _ in 0..30 {
            let (l, _) = a.choose(0.0, |_| Some(200.0)).expect("a path");
            sent[l.index()] += 1;
        }
        assert!(
            sent[0].abs_diff(20) <= 1 && sent[1].abs_diff(10) <= 1,
            "{sent:?}"
        );
    }

    #[test]
    fn the_first_trucks_go_where_they_arrive_soonest() {
        let mut a = allocator([10.0, 10.0]);
        let travel = |l: LoaderId| Some(if l == LoaderId(1) { 100.0 } else { 400.0 });
        assert_eq!(a.choose(0.0, travel), Some((LoaderId(1), DumpId(0))));
        assert_eq!(a.choose(1.0, travel), Some((LoaderId(0), DumpId(0))));
        // nothing reachable: no path
        assert_eq!(a.choose(2.0, |_| None), None);
    }

    #[test]
    fn policies_parse_from_their_names() {
        for p in Policy::ALL {
            assert_eq!(p.name().parse::<Policy>(), Ok(p));
        }
        let e = "greedy".parse::<Policy>().expect_err("unknown");
        assert!(e.contains("greedy") && e.contains("lp"), "{e}");
    }
}
