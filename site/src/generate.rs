//! Seeded procedural open-pit generator.
//!
//! Layout: a pit of benches with a two-lane ramp spiralling down its wall at a constant grade;
//! loading faces branch off the ramp at different depths and off a hub on the pit floor, each
//! ending in a one-way balloon loop with the loader at its tip; on the rim a hub joins the ramp
//! to the crusher, a rim road leads to the waste dump and to parking. Junctions are built from
//! connector lanes (one per allowed movement); every road is two lanes, one per direction,
//! driving on the right.

use crate::file::{
    DumpEntry, GnbEntry, IntersectionEntry, LaneEntry, LoaderEntry, NodeEntry, ParkingEntry,
    SiteFile,
};
use crate::site::{DumpKind, Material};
use crate::terrain::{CarveSpec, PitSpec, TerrainSpec};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::f64::consts::{PI, TAU};

/// Generator parameters. [`GenParams::default`] gives the default site.
#[derive(Clone, Debug, PartialEq)]
pub struct GenParams {
    pub seed: u64,
    /// Loading faces, 4 to 8 (three on the pit floor, the rest on the ramp).
    pub faces: usize,
    pub depth_m: f64,
    pub ramp_grade: f64,
    /// Distance from a lane's driving line to the road's centreline.
    pub lane_offset_m: f64,
}

impl Default for GenParams {
    fn default() -> Self {
        GenParams {
            seed: 1,
            faces: 7,
            depth_m: 180.0,
            ramp_grade: 0.09,
            lane_offset_m: 8.5,
        }
    }
}

type P3 = [f64; 3];

const JUNCTION_R: f64 = 30.0;
const STEP: f64 = 5.0;

struct Builder {
    nodes: Vec<NodeEntry>,
    lanes: Vec<LaneEntry>,
    intersections: Vec<IntersectionEntry>,
    pads: Vec<(Vec<P3>, f64)>,
    offset: f64,
}

/// One end of a two-lane road: the nodes of its inbound (arriving) and outbound lanes.
#[derive(Clone, Copy)]
struct RoadEnd {
    /// Centre point of the road end.
    p: P3,
    /// Unit direction pointing from the end into the road.
    u: [f64; 2],
    inbound: u32,
    outbound: u32,
}

fn norm2(v: [f64; 2]) -> [f64; 2] {
    let l = (v[0] * v[0] + v[1] * v[1]).sqrt().max(1e-12);
    [v[0] / l, v[1] / l]
}
fn right(u: [f64; 2]) -> [f64; 2] {
    [u[1], -u[0]]
}
fn dist2(a: P3, b: P3) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

/// Resamples a polyline every `step` metres (plan view), interpolating z.
fn resample(pts: &[P3], step: f64) -> Vec<P3> {
    let mut s = vec![0.0];
    for w in pts.windows(2) {
        let last = s[s.len() - 1];
        s.push(last + dist2(w[0], w[1]));
    }
    let total = s[s.len() - 1];
    let n = (total / step).ceil().max(1.0) as usize;
    let mut out = Vec::with_capacity(n + 1);
    let mut j = 0;
    for i in 0..=n {
        let target = total * i as f64 / n as f64;
        while j + 2 < s.len() && s[j + 1] < target {
            j += 1;
        }
        let seg = (s[j + 1] - s[j]).max(1e-12);
        let t = ((target - s[j]) / seg).clamp(0.0, 1.0);
        let (a, b) = (pts[j], pts[j + 1]);
        out.push([
            a[0] + (b[0] - a[0]) * t,
            a[1] + (b[1] - a[1]) * t,
            a[2] + (b[2] - a[2]) * t,
        ]);
    }
    out
}

/// Offsets a polyline sideways (positive: to the right of its direction).
fn offset(pts: &[P3], off: f64) -> Vec<P3> {
    let n = pts.len();
    (0..n)
        .map(|i| {
            let a = pts[i.saturating_sub(1)];
            let b = pts[(i + 1).min(n - 1)];
            let u = norm2([b[0] - a[0], b[1] - a[1]]);
            let r = right(u);
            [pts[i][0] + r[0] * off, pts[i][1] + r[1] * off, pts[i][2]]
        })
        .collect()
}

impl Builder {
    fn node(&mut self, name: String, p: P3) -> u32 {
        self.nodes.push(NodeEntry {
            name,
            pos: [round2(p[0]), round2(p[1])],
        });
        (self.nodes.len() - 1) as u32
    }

    fn lane(
        &mut self,
        from: u32,
        to: u32,
        kmh: f64,
        width: f64,
        inter: Option<u32>,
        mut pts: Vec<P3>,
    ) {
        // Snap the ends exactly onto the nodes.
        let f = self.nodes[from as usize].pos;
        let t = self.nodes[to as usize].pos;
        for q in pts.iter_mut() {
            *q = [round2(q[0]), round2(q[1]), round2(q[2])];
        }
        pts.dedup_by(|a, b| (a[0] - b[0]).abs() < 0.05 && (a[1] - b[1]).abs() < 0.05);
        let n = pts.len();
        pts[0][0] = f[0];
        pts[0][1] = f[1];
        pts[n - 1][0] = t[0];
        pts[n - 1][1] = t[1];
        self.lanes.push(LaneEntry {
            from,
            to,
            width_m: width,
            speed_limit_kmh: kmh,
            intersection: inter,
            points: pts,
        });
    }

    /// A two-lane road along `centre`; returns its (start, end) ends.
    fn road(
        &mut self,
        name: &str,
        centre: &[P3],
        kmh_fwd: f64,
        kmh_back: f64,
    ) -> (RoadEnd, RoadEnd) {
        let c = resample(centre, STEP);
        let fwd = offset(&c, self.offset);
        let mut rev: Vec<P3> = c.clone();
        rev.reverse();
        let back = offset(&rev, self.offset);
        let n = c.len();
        let a = self.node(format!("{name}.a.out"), fwd[0]);
        let b = self.node(format!("{name}.b.in"), fwd[n - 1]);
        let b2 = self.node(format!("{name}.b.out"), back[0]);
        let a2 = self.node(format!("{name}.a.in"), back[n - 1]);
        let w = 2.0 * self.offset;
        self.lane(a, b, kmh_fwd, w, None, fwd);
        self.lane(b2, a2, kmh_back, w, None, back);
        let u0 = norm2([c[1][0] - c[0][0], c[1][1] - c[0][1]]);
        let u1 = norm2([c[n - 2][0] - c[n - 1][0], c[n - 2][1] - c[n - 1][1]]);
        (
            RoadEnd {
                p: c[0],
                u: u0,
                inbound: a2,
                outbound: a,
            },
            RoadEnd {
                p: c[n - 1],
                u: u1,
                inbound: b,
                outbound: b2,
            },
        )
    }

    /// A junction joining road ends: one connector lane per movement (no U-turns).
    fn junction(&mut self, name: &str, centre: P3, ends: &[RoadEnd]) {
        self.intersections.push(IntersectionEntry {
            name: name.to_string(),
        });
        let x = (self.intersections.len() - 1) as u32;
        for (i, a) in ends.iter().enumerate() {
            for (j, b) in ends.iter().enumerate() {
                if i == j {
                    continue;
                }
                let p0 = self.nodes[a.inbound as usize].pos;
                let p3 = self.nodes[b.outbound as usize].pos;
                let chord = ((p3[0] - p0[0]).powi(2) + (p3[1] - p0[1]).powi(2)).sqrt();
                let c = 0.45 * chord;
                let p1 = [p0[0] - a.u[0] * c, p0[1] - a.u[1] * c];
                let p2 = [p3[0] - b.u[0] * c, p3[1] - b.u[1] * c];
                let n = (chord / 2.0).ceil().max(4.0) as usize;
                let pts: Vec<P3> = (0..=n)
                    .map(|k| {
                        let t = k as f64 / n as f64;
                        let m = 1.0 - t;
                        let bx = m * m * m * p0[0]
                            + 3.0 * m * m * t * p1[0]
                            + 3.0 * m * t * t * p2[0]
                            + t * t * t * p3[0];
                        let by = m * m * m * p0[1]
                            + 3.0 * m * m * t * p1[1]
                            + 3.0 * m * t * t * p2[1]
                            + t * t * t * p3[1];
                        [bx, by, a.p[2] + (b.p[2] - a.p[2]) * t]
                    })
                    .collect();
                self.lane(a.inbound, b.outbound, 25.0, 2.0 * self.offset, Some(x), pts);
            }
        }
        self.pads.push((
            vec![centre, [centre[0] + 0.1, centre[1], centre[2]]],
            JUNCTION_R + 10.0,
        ));
    }

    /// A one-way balloon loop at a road end: from its inbound lane round to its outbound lane.
    /// Returns the loop lane's index, its length and the position of its tip.
    fn balloon(&mut self, end: RoadEnd, big_r: f64, small_r: f64) -> (u32, f64, [f64; 2]) {
        let d = [-end.u[0], -end.u[1]]; // direction of arrival
        let h = self.offset;
        let alpha = ((h + small_r) / (big_r + small_r)).clamp(-1.0, 1.0).acos();
        // Plan in a local frame: x along d, y to the left; start at (0, -h).
        let mut x = 0.0f64;
        let mut y = -h;
        let mut psi = 0.0f64;
        let mut local = vec![[x, y]];
        let parts = [
            (-1.0 / small_r, small_r * alpha),
            (1.0 / big_r, big_r * (PI + 2.0 * alpha)),
            (-1.0 / small_r, small_r * alpha),
        ];
        for (k, len) in parts {
            let n = (len / 1.0).ceil() as usize;
            let ds = len / n as f64;
            for _ in 0..n {
                let mid = psi + k * ds / 2.0;
                x += ds * mid.cos();
                y += ds * mid.sin();
                psi += k * ds;
                local.push([x, y]);
            }
        }
        let left = [-d[1], d[0]];
        let to_world = |q: [f64; 2]| -> P3 {
            [
                end.p[0] + d[0] * q[0] + left[0] * q[1],
                end.p[1] + d[1] * q[0] + left[1] * q[1],
                end.p[2],
            ]
        };
        let pts: Vec<P3> = local.iter().map(|&q| to_world(q)).collect();
        let pts = resample(&pts, 3.0);
        let len: f64 = pts.windows(2).map(|w| dist2(w[0], w[1])).sum();
        let tip_x = (big_r + small_r) * alpha.sin() + big_r;
        let tip = to_world([tip_x, 0.0]);
        // Level the whole balloon and its surroundings.
        let axis_end = to_world([tip_x + 25.0, 0.0]);
        self.pads.push((vec![end.p, axis_end], big_r + 10.0));
        self.lane(
            end.inbound,
            end.outbound,
            20.0,
            2.0 * self.offset,
            None,
            pts,
        );
        ((self.lanes.len() - 1) as u32, len, [tip[0], tip[1]])
    }
}

/// Rounds to centimetres (keeps the site file readable).
fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// A point on a circle around the pit centre.
fn polar(r: f64, theta: f64, z: f64) -> P3 {
    [r * theta.cos(), r * theta.sin(), z]
}

/// Generates a site from parameters. Same parameters, same site.
pub fn generate(params: &GenParams) -> SiteFile {
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let faces = params.faces.clamp(4, 8);
    let ramp_faces = faces - 3;
    let rim_z = 100.0;
    let depth = params.depth_m;
    let floor_z = rim_z - depth;
    let outline = [
        [
            rng.random_range(0.02..0.05),
            2.0,
            rng.random_range(0.0..TAU),
        ],
        [
            rng.random_range(0.01..0.03),
            3.0,
            rng.random_range(0.0..TAU),
        ],
    ];
    let pit = PitSpec {
        center: [0.0, 0.0],
        floor_radius_m: 270.0,
        top_radius_m: 720.0,
        depth_m: depth,
        bench_height_m: 15.0,
        face_angle_deg: 65.0,
        outline: outline
            .iter()
            .map(|o| [round2(o[0] * 100.0) / 100.0, o[1], round2(o[2])])
            .collect(),
    };
    let theta0: f64 = rng.random_range(0.0..TAU);
    let dir: f64 = if rng.random_bool(0.5) { 1.0 } else { -1.0 };

    // Spiral ramp: constant grade, radius shrinking from outside the crest to the floor.
    let (r0, r1) = (790.0, 235.0);
    // Flat landings: 40 m at the head, 80 m at each face junction.
    let landing = JUNCTION_R + 10.0;
    let ramp_len = depth / params.ramp_grade + landing * (1.0 + 2.0 * ramp_faces as f64);
    let spiral = |big_theta: f64, n: usize| -> Vec<[f64; 2]> {
        (0..=n)
            .map(|i| {
                let t = i as f64 / n as f64;
                let th = theta0 + dir * big_theta * t;
                let r = (r0 + (r1 - r0) * t) * pit.outline_scale(th).min(1.0);
                [r * th.cos(), r * th.sin()]
            })
            .collect()
    };
    let plan_len = |pts: &[[f64; 2]]| -> f64 {
        pts.windows(2)
            .map(|w| ((w[1][0] - w[0][0]).powi(2) + (w[1][1] - w[0][1]).powi(2)).sqrt())
            .sum()
    };
    let (mut lo, mut hi) = (0.2, 6.0);
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if plan_len(&spiral(mid, 2000)) < ramp_len {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let plan = spiral(0.5 * (lo + hi), 4000);
    let plan_total = plan_len(&plan);
    let graded = plan_total - landing * (1.0 + 2.0 * ramp_faces as f64);
    let grade = depth / graded;
    let junction_s: Vec<f64> = (1..=ramp_faces)
        .map(|k| landing + (plan_total - landing) * k as f64 / (ramp_faces + 1) as f64)
        .collect();
    let mut flats = vec![(0.0, landing)];
    flats.extend(junction_s.iter().map(|&s| (s - landing, s + landing)));
    let graded_upto = |s: f64| -> f64 {
        s - flats
            .iter()
            .map(|&(a, b)| (s.min(b) - a).max(0.0))
            .sum::<f64>()
    };
    let mut ramp: Vec<P3> = Vec::with_capacity(plan.len());
    let mut s_acc = 0.0;
    for (i, q) in plan.iter().enumerate() {
        if i > 0 {
            s_acc += ((q[0] - plan[i - 1][0]).powi(2) + (q[1] - plan[i - 1][1]).powi(2)).sqrt();
        }
        ramp.push([
            q[0],
            q[1],
            (rim_z - grade * graded_upto(s_acc)).max(floor_z),
        ]);
    }
    let ramp = resample(&ramp, 1.0);
    let at_s = |s: f64| -> P3 { ramp[(s.round() as usize).min(ramp.len() - 1)] };
    let slice = |a: f64, b: f64| -> Vec<P3> {
        let i = (a.round() as usize).min(ramp.len() - 1);
        let j = (b.round() as usize).min(ramp.len() - 1);
        ramp[i..=j].to_vec()
    };

    let mut b = Builder {
        nodes: vec![],
        lanes: vec![],
        intersections: vec![],
        pads: vec![],
        offset: params.lane_offset_m,
    };
    let mut loaders = Vec::new();
    let mut dumps = Vec::new();

    // Ramp junctions, evenly spaced, with a spur outward to each face.
    let total = (ramp.len() - 1) as f64;
    let junction_s: Vec<f64> = junction_s.iter().map(|s| s * total / plan_total).collect();
    let mut ramp_cuts = vec![JUNCTION_R];
    for &s in &junction_s {
        ramp_cuts.push(s - JUNCTION_R);
        ramp_cuts.push(s + JUNCTION_R);
    }
    ramp_cuts.push(total);
    // The ramp's last stretch runs on from its foot across the floor to the floor hub.
    let foot = at_s(total);
    let hub = [0.0, 0.0, floor_z];
    let inward = norm2([hub[0] - foot[0], hub[1] - foot[1]]);
    let floor_end = [
        hub[0] - inward[0] * JUNCTION_R,
        hub[1] - inward[1] * JUNCTION_R,
        floor_z,
    ];
    let mut ramp_roads = Vec::new();
    for k in 0..=ramp_faces {
        let (a, c) = (ramp_cuts[2 * k], ramp_cuts[2 * k + 1]);
        let mut centre = slice(a, c);
        if k == ramp_faces {
            let n = centre.len();
            let tangent = norm2([
                centre[n - 1][0] - centre[n - 6][0],
                centre[n - 1][1] - centre[n - 6][1],
            ]);
            let bend = smooth(
                &[
                    foot,
                    [
                        foot[0] + tangent[0] * 60.0,
                        foot[1] + tangent[1] * 60.0,
                        floor_z,
                    ],
                    floor_end,
                ],
                4,
            );
            centre.extend_from_slice(&resample(&bend, 2.0)[1..]);
        }
        ramp_roads.push(b.road(&format!("ramp{k}"), &centre, 30.0, 40.0));
    }
    for (k, &s) in junction_s.iter().enumerate() {
        let c = at_s(s);
        let out = norm2([c[0], c[1]]);
        let p0 = [c[0] + out[0] * JUNCTION_R, c[1] + out[1] * JUNCTION_R, c[2]];
        let p1 = [
            c[0] + out[0] * (JUNCTION_R + 60.0),
            c[1] + out[1] * (JUNCTION_R + 60.0),
            c[2],
        ];
        let (spur_start, spur_end) = b.road(&format!("face{k}.spur"), &[p0, p1], 30.0, 30.0);
        b.junction(
            &format!("J{k}"),
            c,
            &[ramp_roads[k].1, ramp_roads[k + 1].0, spur_start],
        );
        let (lane, len, tip) = b.balloon(spur_end, 35.0, 40.0);
        let material = if k + 1 == ramp_faces {
            Material::Ore
        } else {
            Material::Waste
        };
        let tip_dir = norm2([tip[0] - p1[0], tip[1] - p1[1]]);
        loaders.push(LoaderEntry {
            name: format!("face{k}"),
            material,
            lane,
            spot_s: (len / 2.0).round(),
            pos: [tip[0] + tip_dir[0] * 22.0, tip[1] + tip_dir[1] * 22.0],
            bucket_t: 72.5,
            pass_s: 30.0,
        });
    }

    // Pit floor: three faces around the hub at the end of the ramp.
    let floor_stop = ramp_roads[ramp_faces].1;
    let mut hub_ends = vec![floor_stop];
    let base = (-inward[1]).atan2(-inward[0]);
    for k in 0..3 {
        let th = base + (k as f64 + 1.0) * PI / 2.0;
        let u = [th.cos(), th.sin()];
        let p0 = [
            hub[0] + u[0] * JUNCTION_R,
            hub[1] + u[1] * JUNCTION_R,
            floor_z,
        ];
        let p1 = [
            hub[0] + u[0] * (JUNCTION_R + 50.0),
            hub[1] + u[1] * (JUNCTION_R + 50.0),
            floor_z,
        ];
        let (s0, s1) = b.road(&format!("floor{k}.spur"), &[p0, p1], 30.0, 30.0);
        hub_ends.push(s0);
        let (lane, len, tip) = b.balloon(s1, 35.0, 40.0);
        loaders.push(LoaderEntry {
            name: format!("floor{k}"),
            material: Material::Ore,
            lane,
            spot_s: (len / 2.0).round(),
            pos: [tip[0] + u[0] * 22.0, tip[1] + u[1] * 22.0],
            bucket_t: 72.5,
            pass_s: 30.0,
        });
    }
    b.junction("F", hub, &hub_ends);

    // Rim: hub H at the ramp head; crusher straight out; rim road to the waste dump and parking.
    let head = at_s(0.0);
    let out_h = norm2([head[0], head[1]]);
    let ramp_top = ramp_roads[0].0;
    let crusher_road = [
        [
            head[0] + out_h[0] * JUNCTION_R,
            head[1] + out_h[1] * JUNCTION_R,
            rim_z,
        ],
        [
            head[0] + out_h[0] * (JUNCTION_R + 150.0),
            head[1] + out_h[1] * (JUNCTION_R + 150.0),
            rim_z,
        ],
    ];
    let (cr0, cr1) = b.road("crusher.road", &crusher_road, 50.0, 50.0);
    let rim_r = (head[0].powi(2) + head[1].powi(2)).sqrt();
    let th_h = head[1].atan2(head[0]);
    let arc = |from: f64, to: f64| -> Vec<P3> {
        let n = 64;
        (0..=n)
            .map(|i| polar(rim_r, from + (to - from) * i as f64 / n as f64, rim_z))
            .collect()
    };
    let dth = JUNCTION_R / rim_r;
    let th_w = th_h - dir * 0.75;
    let (rim0, rim1) = b.road("rim", &arc(th_h - dir * dth, th_w + dir * dth), 50.0, 50.0);
    b.junction("H", [head[0], head[1], rim_z], &[ramp_top, cr0, rim0]);
    let (lane, len, _) = b.balloon(cr1, 35.0, 40.0);
    dumps.push(DumpEntry {
        name: "crusher".into(),
        kind: DumpKind::Crusher,
        lane,
        spots_s: vec![(len / 2.0 - 20.0).round(), (len / 2.0 + 20.0).round()],
    });
    let w = polar(rim_r, th_w, rim_z);
    let out_w = norm2([w[0], w[1]]);
    let waste_road = [
        [
            w[0] + out_w[0] * JUNCTION_R,
            w[1] + out_w[1] * JUNCTION_R,
            rim_z,
        ],
        [
            w[0] + out_w[0] * (JUNCTION_R + 120.0),
            w[1] + out_w[1] * (JUNCTION_R + 120.0),
            rim_z,
        ],
    ];
    let (wr0, wr1) = b.road("waste.road", &waste_road, 50.0, 50.0);
    let th_p = th_w - dir * 0.45;
    let (pk0, pk1) = b.road("parking.road", &arc(th_w - dir * dth, th_p), 40.0, 40.0);
    b.junction("W", w, &[rim1, wr0, pk0]);
    let (lane, len, _) = b.balloon(wr1, 50.0, 50.0);
    let mut spots = Vec::new();
    let mut s = 45.0;
    while s <= len - 45.0 {
        spots.push(s);
        s += 35.0;
    }
    dumps.push(DumpEntry {
        name: "waste".into(),
        kind: DumpKind::Waste,
        lane,
        spots_s: spots,
    });
    let (plane, plen, _) = b.balloon(pk1, 35.0, 40.0);
    let mut slots = Vec::new();
    let mut s = 40.0;
    while s <= plen - 40.0 {
        slots.push(s);
        s += 26.0;
    }
    let parking = ParkingEntry {
        lane: plane,
        slots_s: slots,
    };

    // Three gNB masts on the rim, 120° apart.
    let gnbs = (0..3)
        .map(|k| {
            let th = th_h + dir * (0.6 + k as f64 * TAU / 3.0);
            let p = polar(rim_r + 90.0, th, rim_z);
            GnbEntry {
                name: format!("gNB{k}"),
                pos: [p[0], p[1]],
                mast_height_m: 35.0,
                tx_power_dbm: None,
                antenna_gain_dbi: None,
                downtilt_deg: None,
                azimuth_deg: None,
            }
        })
        .collect();

    // Flat pads (junction squares, loops, machine stands) are carved like roads.
    let pads = std::mem::take(&mut b.pads);
    SiteFile {
        name: format!("pit-{}", params.seed),
        description: format!(
            "Procedural open pit (seed {}, {} faces, {:.0} m deep, ramp grade {:.0}%)",
            params.seed,
            faces,
            depth,
            params.ramp_grade * 100.0
        ),
        terrain: TerrainSpec {
            size_m: [3000.0, 3000.0],
            cell_m: 6.0,
            rim_z,
            pit,
            carve: CarveSpec::default(),
            pads: pads
                .into_iter()
                .map(|(points, half_width_m)| crate::terrain::Pad {
                    points: points
                        .iter()
                        .map(|q| [round2(q[0]), round2(q[1]), round2(q[2])])
                        .collect(),
                    half_width_m,
                })
                .collect(),
        },
        nodes: b.nodes,
        intersections: b.intersections,
        lanes: b.lanes,
        loaders,
        dumps,
        parking: Some(parking),
        gnbs,
        radio: None,
    }
}

/// Chaikin corner cutting, `iterations` times, keeping the end points.
fn smooth(pts: &[P3], iterations: usize) -> Vec<P3> {
    let mut cur = pts.to_vec();
    for _ in 0..iterations {
        let mut next = vec![cur[0]];
        for w in cur.windows(2) {
            let (a, c) = (w[0], w[1]);
            next.push([
                0.75 * a[0] + 0.25 * c[0],
                0.75 * a[1] + 0.25 * c[1],
                0.75 * a[2] + 0.25 * c[2],
            ]);
            next.push([
                0.25 * a[0] + 0.75 * c[0],
                0.25 * a[1] + 0.75 * c[1],
                0.25 * a[2] + 0.75 * c[2],
            ]);
        }
        next.push(cur[cur.len() - 1]);
        cur = next;
    }
    cur
}
