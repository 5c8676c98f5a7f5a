//! Cells over a terrain: per-link measurements (path loss, LOS, shadowing, RSRP), SINR and
//! cell capacity.

use crate::radio::config::{ConfigError, NlosModel, RadioConfig};
use crate::radio::pathloss::{knife_edge_loss_db, AntennaPattern, RmaParams};
use crate::radio::phy::{
    dbm_to_mw, mw_to_dbm, noise_power_dbm, spectral_efficiency, Direction, TddFrame,
};
use crate::radio::shadowing::ShadowingField;
use crate::radio::terrain::{ray_profile, Point3, TerrainProfile};
use site::seed::{derive, Stream};

/// Index of a cell in [`RadioConfig::cells`].
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct CellId(pub u32);

impl CellId {
    /// The index into the cell list.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// TR 38.901 RMa validity range of h_BS, metres; the effective height is clamped to it.
const RMA_H_BS_RANGE: (f64, f64) = (10.0, 150.0);

/// A resolved cell: configuration plus derived geometry and its shadowing field.
#[derive(Debug, Clone)]
pub struct Cell {
    /// Its id (index).
    pub id: CellId,
    /// Its configuration.
    pub config: crate::radio::config::CellSiteConfig,
    /// Antenna (mast top) position.
    pub antenna: Point3,
    pattern: AntennaPattern,
    shadowing: ShadowingField,
}

/// Everything known about one cell–UE link at one position.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CellMeasurement {
    /// The cell.
    pub cell: CellId,
    /// Horizontal distance mast–UE, metres.
    pub distance_2d_m: f64,
    /// Terrain line of sight from mast top to UE antenna.
    pub line_of_sight: bool,
    /// Path loss including diffraction, dB (no shadowing, no antenna gains).
    pub path_loss_db: f64,
    /// Knife-edge diffraction part of `path_loss_db`, dB.
    pub diffraction_loss_db: f64,
    /// Shadowing, dB (positive = extra loss).
    pub shadowing_db: f64,
    /// Antenna pattern attenuation towards the UE, dB.
    pub pattern_attenuation_db: f64,
    /// Downlink received power over the whole carrier, dBm.
    pub dl_rx_power_dbm: f64,
    /// Reference-signal received power (per resource element), dBm.
    pub rsrp_dbm: f64,
    /// Uplink received power at the gNB (UE at full power over the carrier), dBm.
    pub ul_rx_power_dbm: f64,
}

/// The cells of a site over a terrain. Pure: every query is a function of its arguments,
/// the configuration and the seed.
#[derive(Debug, Clone)]
pub struct CellNetwork<T> {
    config: RadioConfig,
    terrain: T,
    cells: Vec<Cell>,
    tdd: TddFrame,
    dl_noise_dbm: f64,
    ul_noise_dbm: f64,
    rsrp_offset_db: f64,
}

impl<T: TerrainProfile> CellNetwork<T> {
    /// Validates `config` and builds the cells; `seed` draws the shadowing fields (one per
    /// cell, independent).
    pub fn new(config: RadioConfig, terrain: T, seed: u64) -> Result<Self, ConfigError> {
        config.validate()?;
        let prop = &config.propagation;
        let cells = config
            .cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let ground = c
                    .ground_z_m
                    .or_else(|| terrain.height_at(c.x_m, c.y_m))
                    .unwrap_or(0.0);
                Cell {
                    id: CellId(i as u32),
                    config: c.clone(),
                    antenna: Point3::new(c.x_m, c.y_m, ground + c.mast_height_m),
                    pattern: AntennaPattern {
                        downtilt_deg: c.downtilt_deg,
                        vertical_beamwidth_deg: prop.vertical_beamwidth_deg,
                        vertical: prop.vertical_pattern,
                        azimuth_deg: c.azimuth_deg,
                        horizontal_beamwidth_deg: prop.horizontal_beamwidth_deg,
                        max_attenuation_db: prop.max_pattern_attenuation_db,
                    },
                    shadowing: ShadowingField::new(
                        derive(seed, Stream::RadioShadowing, i as u64),
                        prop.correlation_distance_m,
                    ),
                }
            })
            .collect();
        let tdd = TddFrame::new(&config.carrier);
        let b = config.carrier.bandwidth_hz;
        let dl_noise_dbm = noise_power_dbm(b, config.ue.noise_figure_db);
        let ul_noise_dbm = noise_power_dbm(b, config.interference.gnb_noise_figure_db);
        let res = 12.0 * f64::from(config.carrier.resource_blocks());
        Ok(Self {
            config,
            terrain,
            cells,
            tdd,
            dl_noise_dbm,
            ul_noise_dbm,
            rsrp_offset_db: 10.0 * res.log10(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &RadioConfig {
        &self.config
    }

    /// The terrain.
    pub fn terrain(&self) -> &T {
        &self.terrain
    }

    /// The cells, indexed by [`CellId::index`].
    pub fn cells(&self) -> &[Cell] {
        &self.cells
    }

    /// The TDD frame.
    pub fn tdd(&self) -> &TddFrame {
        &self.tdd
    }

    /// Downlink thermal noise over the carrier at the UE, dBm.
    pub fn dl_noise_dbm(&self) -> f64 {
        self.dl_noise_dbm
    }

    /// UE antenna position for a truck at `(x, y)`: terrain height (0 m where the terrain
    /// has none) plus the configured antenna height.
    pub fn ue_antenna(&self, x: f64, y: f64) -> Point3 {
        let ground = self.terrain.height_at(x, y).unwrap_or(0.0);
        Point3::new(x, y, ground + self.config.ue.antenna_height_m)
    }

    /// Measures one cell from a UE antenna at `ue`.
    pub fn measure_cell(&self, cell: CellId, ue: Point3) -> Option<CellMeasurement> {
        let c = self.cells.get(cell.index())?;
        let cfg = &self.config;
        let prop = &cfg.propagation;
        let d2d = c.antenna.distance_2d(&ue);
        let ue_ground = ue.z - cfg.ue.antenna_height_m;
        let h_bs = (c.antenna.z - ue_ground).clamp(RMA_H_BS_RANGE.0, RMA_H_BS_RANGE.1);
        let rma = RmaParams {
            frequency_hz: cfg.carrier.frequency_hz,
            h_bs_m: h_bs,
            h_ut_m: cfg.ue.antenna_height_m,
            avg_building_height_m: prop.avg_building_height_m,
            street_width_m: prop.street_width_m,
        };
        let ray = ray_profile(
            &self.terrain,
            c.antenna,
            ue,
            prop.los_sample_step_m,
            cfg.carrier.wavelength_m(),
        );
        let los = ray.line_of_sight;
        let (base, diffraction) = match prop.nlos_model {
            NlosModel::RmaNlosPlusKnifeEdge => {
                if los {
                    (rma.los_db(d2d), 0.0)
                } else {
                    (rma.nlos_db(d2d), knife_edge_loss_db(ray.max_nu))
                }
            }
            NlosModel::RmaLosPlusKnifeEdge => (rma.los_db(d2d), knife_edge_loss_db(ray.max_nu)),
        };
        let path_loss_db = base + diffraction;
        let shadowing_db = if prop.shadowing_enabled {
            let sigma = if los {
                prop.shadowing_sigma_los_db
            } else {
                prop.shadowing_sigma_nlos_db
            };
            sigma * c.shadowing.value(ue.x, ue.y)
        } else {
            0.0
        };
        let pattern_attenuation_db =
            c.pattern
                .attenuation_db(ue.x - c.antenna.x, ue.y - c.antenna.y, ue.z - c.antenna.z);
        let coupling_db = c.config.antenna_gain_dbi - pattern_attenuation_db
            + cfg.ue.antenna_gain_dbi
            - path_loss_db
            - shadowing_db;
        let dl_rx_power_dbm = c.config.tx_power_dbm + coupling_db;
        Some(CellMeasurement {
            cell: c.id,
            distance_2d_m: d2d,
            line_of_sight: los,
            path_loss_db,
            diffraction_loss_db: diffraction,
            shadowing_db,
            pattern_attenuation_db,
            dl_rx_power_dbm,
            rsrp_dbm: dl_rx_power_dbm - self.rsrp_offset_db,
            ul_rx_power_dbm: cfg.ue.tx_power_dbm + coupling_db,
        })
    }

    /// Measures every cell from `ue` into `out` (cleared first), in cell order.
    pub fn measure_into(&self, ue: Point3, out: &mut Vec<CellMeasurement>) {
        out.clear();
        out.extend((0..self.cells.len()).filter_map(|i| self.measure_cell(CellId(i as u32), ue)));
    }

    /// Measures every cell from `ue`, in cell order.
    pub fn measure(&self, ue: Point3) -> Vec<CellMeasurement> {
        let mut v = Vec::with_capacity(self.cells.len());
        self.measure_into(ue, &mut v);
        v
    }

    /// Downlink SINR of `serving`, dB: its received power over the other cells' received
    /// power (weighted by `interference.neighbour_load`) plus thermal noise. −∞ when
    /// `serving` is not in `meas`.
    pub fn dl_sinr_db(&self, meas: &[CellMeasurement], serving: CellId) -> f64 {
        let load = self.config.interference.neighbour_load;
        let mut signal = 0.0;
        let mut interference = 0.0;
        for m in meas {
            if m.cell == serving {
                signal = dbm_to_mw(m.dl_rx_power_dbm);
            } else {
                interference += load * dbm_to_mw(m.dl_rx_power_dbm);
            }
        }
        mw_to_dbm(signal) - mw_to_dbm(interference + dbm_to_mw(self.dl_noise_dbm))
    }

    /// Uplink SINR at the gNB of `m.cell`, dB: UE at full power over the carrier, gNB noise
    /// plus the configured interference-over-thermal margin.
    pub fn ul_sinr_db(&self, m: &CellMeasurement) -> f64 {
        m.ul_rx_power_dbm
            - self.ul_noise_dbm
            - self.config.interference.uplink_interference_margin_db
    }

    /// The cell with the highest RSRP (ties: lowest id).
    pub fn best_cell(meas: &[CellMeasurement]) -> Option<CellId> {
        let mut best: Option<&CellMeasurement> = None;
        for m in meas {
            if best.is_none_or(|b| m.rsrp_dbm > b.rsrp_dbm) {
                best = Some(m);
            }
        }
        best.map(|m| m.cell)
    }

    /// Rate one UE at `sinr_db` would get with the whole cell to itself in `dir`, bit/s:
    /// SE(SINR)·B·(1 − overhead)·TDD fraction·layers.
    pub fn full_cell_rate_bps(&self, sinr_db: f64, dir: Direction) -> f64 {
        let c = &self.config.carrier;
        let overhead = match dir {
            Direction::Downlink => c.overhead_dl,
            Direction::Uplink => c.overhead_ul,
        };
        spectral_efficiency(sinr_db, &self.config.link)
            * c.bandwidth_hz
            * (1.0 - overhead)
            * self.tdd.fraction(dir)
            * f64::from(self.config.link.mimo_layers)
    }
}
