//! The 5G radio model over the site: a `network5g::CellNetwork` built from the site's gNBs and
//! terrain; per truck the serving (best-RSRP) cell and its downlink SINR; the best-server SINR
//! coverage map as a heatmap mesh draped on the terrain.
//!
//! Seam: the world does not carry per-truck link state yet (the QUIC/5G transport issue will).
//! Until then [`link_of`] measures the cells at the truck's position; when the world carries
//! link state, read it there instead and keep the overlay and the inspector as they are.

use super::overlays::{OverlayKind, Overlays};
use super::{to_bevy, ViewerSystems};
use crate::app::World as SimRes;
use bevy::asset::RenderAssetUsages;
use bevy::mesh::{Indices, PrimitiveTopology};
use bevy::prelude::*;
pub use network5g::radio::site::SiteTerrain;
use network5g::{CellId, CellNetwork, ColourScale, CoverageArea, CoverageMap, RadioConfig};
use site::{SimTime, Site};
use std::sync::Arc;

/// One truck's radio link.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TruckLink {
    pub cell: CellId,
    pub sinr_db: f64,
    pub line_of_sight: bool,
    /// Serving antenna, site frame.
    pub antenna: [f64; 3],
}

/// The radio model and what it last measured.
#[derive(Resource)]
pub struct Radio {
    pub net: Option<CellNetwork<SiteTerrain>>,
    pub links: Vec<Option<TruckLink>>,
    pub measured_at: Option<SimTime>,
    pub coverage: Option<CoverageMap>,
    pub scale: ColourScale,
}

/// The radio configuration of a site: the same as the runs' (`network5g`'s, from the site
/// file's gNBs and `[radio]` table); the model's defaults when the file's settings are refused.
pub fn radio_config(site: &Site) -> RadioConfig {
    network5g::radio::site::site_radio_config(site).unwrap_or_default()
}

/// Builds the cell network of a site (none when it has no gNB or the config is refused).
pub fn network(site: Arc<Site>, seed: u64) -> Option<CellNetwork<SiteTerrain>> {
    let cfg = radio_config(&site);
    CellNetwork::new(cfg, SiteTerrain(site), seed).ok()
}

/// The serving cell and SINR of a truck at `(x, y)`.
pub fn link_of(net: &CellNetwork<SiteTerrain>, x: f64, y: f64) -> Option<TruckLink> {
    let meas = net.measure(net.ue_antenna(x, y));
    let best = CellNetwork::<SiteTerrain>::best_cell(&meas)?;
    let m = meas.iter().find(|m| m.cell == best)?;
    let a = net.cells().get(best.index())?.antenna;
    Some(TruckLink {
        cell: best,
        sinr_db: net.dl_sinr_db(&meas, best),
        line_of_sight: m.line_of_sight,
        antenna: [a.x, a.y, a.z],
    })
}

/// The coverage grid: the whole terrain every 40 m.
pub fn coverage(net: &CellNetwork<SiteTerrain>, site: &Site) -> CoverageMap {
    let t = &site.terrain;
    net.coverage_map(CoverageArea {
        x_min: t.origin[0],
        y_min: t.origin[1],
        x_max: t.origin[0] + t.width(),
        y_max: t.origin[1] + t.depth(),
        spacing_m: 40.0,
    })
}

/// A mesh over the coverage grid, 3 m above the terrain, coloured by SINR.
pub fn heatmap_mesh(map: &CoverageMap, site: &Site, scale: ColourScale) -> Mesh {
    let (nx, ny) = (map.nx, map.ny);
    let mut pos = Vec::with_capacity(nx * ny);
    let mut col = Vec::with_capacity(nx * ny);
    for row in 0..ny {
        for c in 0..nx {
            let x = map.area.x_min + c as f64 * map.area.spacing_m;
            let y = map.area.y_min + row as f64 * map.area.spacing_m;
            let z = site.terrain.height_at(x, y) + 3.0;
            pos.push(to_bevy([x, y, z]).to_array());
            let rgb = scale.colour(map.at(c, row).unwrap_or(f32::NAN));
            let lin = Color::srgb_u8(rgb[0], rgb[1], rgb[2]).to_linear();
            col.push([lin.red, lin.green, lin.blue, 0.7]);
        }
    }
    let mut idx = Vec::new();
    for j in 0..ny.saturating_sub(1) {
        for i in 0..nx.saturating_sub(1) {
            let a = (j * nx + i) as u32;
            let (b, c) = (a + 1, a + nx as u32);
            let d = c + 1;
            idx.extend_from_slice(&[a, b, c, b, d, c]);
        }
    }
    let n = pos.len();
    Mesh::new(
        PrimitiveTopology::TriangleList,
        RenderAssetUsages::default(),
    )
    .with_inserted_attribute(Mesh::ATTRIBUTE_POSITION, pos)
    .with_inserted_attribute(Mesh::ATTRIBUTE_NORMAL, vec![[0.0f32, 1.0, 0.0]; n])
    .with_inserted_attribute(Mesh::ATTRIBUTE_COLOR, col)
    .with_inserted_indices(Indices::U32(idx))
}

/// Marks the heatmap mesh.
#[derive(Component)]
pub struct Heatmap;

fn setup(mut commands: Commands, sim: Res<SimRes>) {
    commands.insert_resource(Radio {
        net: network(sim.0.site.clone(), sim.0.cfg.seed),
        links: Vec::new(),
        measured_at: None,
        coverage: None,
        scale: ColourScale::default(),
    });
}

/// Measures every truck's link, at most every 200 ms of simulated time.
fn measure_links(sim: Res<SimRes>, mut radio: ResMut<Radio>) {
    let now = sim.0.now;
    if radio
        .measured_at
        .is_some_and(|t| t <= now && now.since(t).as_secs_f64() < 0.2)
    {
        return;
    }
    let Some(net) = &radio.net else { return };
    let links = sim
        .0
        .trucks
        .iter()
        .map(|t| {
            let p = sim.0.physics.state(t.body).pos;
            link_of(net, p[0], p[1])
        })
        .collect();
    radio.links = links;
    radio.measured_at = Some(now);
}

/// Builds the heatmap the first time the coverage overlay is on; shows or hides it.
fn heatmap(
    mut commands: Commands,
    overlays: Res<Overlays>,
    sim: Res<SimRes>,
    mut radio: ResMut<Radio>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    mut q: Query<&mut Visibility, With<Heatmap>>,
) {
    let on = overlays.is_on(OverlayKind::Coverage);
    if on && radio.coverage.is_none() {
        let Some(net) = &radio.net else { return };
        let map = coverage(net, &sim.0.site);
        let mesh = heatmap_mesh(&map, &sim.0.site, radio.scale);
        radio.coverage = Some(map);
        commands.spawn((
            Heatmap,
            Mesh3d(meshes.add(mesh)),
            MeshMaterial3d(materials.add(StandardMaterial {
                base_color: Color::WHITE,
                unlit: true,
                alpha_mode: AlphaMode::Blend,
                ..default()
            })),
            Transform::default(),
            Visibility::Visible,
        ));
        return;
    }
    for mut v in &mut q {
        *v = if on {
            Visibility::Visible
        } else {
            Visibility::Hidden
        };
    }
}

pub(super) fn plugin(app: &mut App) {
    app.add_systems(Startup, setup);
    app.add_systems(Update, measure_links.in_set(ViewerSystems::Sync));
    app.add_systems(Update, heatmap.in_set(ViewerSystems::Draw));
}

#[cfg(test)]
mod tests {
    use super::*;
    use network5g::TerrainProfile;

    #[test]
    fn site_terrain_is_the_heightfield_inside_and_none_outside() {
        let site = site::file::load(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../assets/sites/default.toml"
        )))
        .expect("default site");
        let t = SiteTerrain(Arc::new(site));
        let h = t.height_at(0.0, 0.0).expect("inside");
        assert!((h - t.0.terrain.height_at(0.0, 0.0)).abs() < 1e-9);
        assert!(t.height_at(1e6, 0.0).is_none());
    }
}
