use site::file::{build, parse, to_toml};
use site::generate::{generate, GenParams};

#[test]
fn default_site_builds_and_meets_the_brief() {
    let f = generate(&GenParams::default());
    let site = match build("generated", &f) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    let (lo, hi) = site.terrain.range();
    eprintln!(
        "lanes {} nodes {} road {:.0} m, z {lo:.0}..{hi:.0}, loaders {}, capacity {}",
        site.roads.lanes.len(),
        site.roads.nodes.len(),
        site.road_length_m(),
        site.loaders.len(),
        site.capacity()
    );
    assert!((4..=8).contains(&site.loaders.len()));
    assert!(
        site.capacity() >= 100,
        "room for {} trucks",
        site.capacity()
    );
    // Loaded trucks climb ramps of at least 8%.
    let steepest = site
        .roads
        .lanes
        .iter()
        .flat_map(|l| (0..l.points.len() - 1).map(move |i| l.point_at(l.s[i] + 0.01).grade))
        .fold(0.0f64, f64::max);
    assert!(steepest >= 0.08, "steepest grade {steepest}");
    // Depths of the faces differ.
    let mut depths: Vec<i64> = site
        .loaders
        .iter()
        .map(|l| site.roads.lane(l.lane).point_at(l.spot_s).pos[2].round() as i64)
        .collect();
    depths.sort();
    depths.dedup();
    assert!(depths.len() >= 4, "face depths {depths:?}");
    // Text round trip.
    let text = to_toml(&f).unwrap();
    let again = parse("again", &text).unwrap();
    assert_eq!(build("again", &again).unwrap(), site);
}
