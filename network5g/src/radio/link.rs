//! Per-UE link state machine (cell selection, A3 handover with hysteresis and
//! time-to-trigger, radio-link failure and re-establishment) and per-packet delivery.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::radio::network::{CellId, CellMeasurement, CellNetwork};
use crate::radio::phy::{harq_bler, Direction};
use crate::radio::terrain::TerrainProfile;

/// Identifies a UE (truck modem) inside a [`crate::RadioSim`].
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct UeId(pub u32);

/// Connection state of a UE.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum LinkState {
    /// Never attached yet, or no cell good enough at the last attempt.
    Detached,
    /// Attached to `cell`; data flows.
    Connected {
        /// Serving cell.
        cell: CellId,
    },
    /// Handover from `from` to `to`; no data until `until_us` (packets sent meanwhile are
    /// held and sent after it: lossless handover with data forwarding).
    HandoverInProgress {
        /// Source cell.
        from: CellId,
        /// Target cell.
        to: CellId,
        /// End of the interruption, µs.
        until_us: u64,
    },
    /// Radio-link failure: no data (packets are lost) until re-establishment.
    RadioLinkFailure {
        /// When the failure was declared, µs.
        since_us: u64,
        /// Next re-establishment attempt, µs.
        retry_at_us: u64,
    },
}

impl LinkState {
    /// The cell data flows through now, if any (the target during a handover).
    pub fn data_cell(&self) -> Option<CellId> {
        match *self {
            LinkState::Connected { cell } => Some(cell),
            LinkState::HandoverInProgress { to, .. } => Some(to),
            _ => None,
        }
    }

    /// True only in [`LinkState::Connected`].
    pub fn is_connected(&self) -> bool {
        matches!(self, LinkState::Connected { .. })
    }
}

/// What happened to a UE's link.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum LinkEventKind {
    /// First attachment to `cell`.
    Attached {
        /// The cell.
        cell: CellId,
    },
    /// A3 condition held for the time-to-trigger; interruption starts.
    HandoverStarted {
        /// Source cell.
        from: CellId,
        /// Target cell.
        to: CellId,
    },
    /// Interruption over; `to` serves.
    HandoverCompleted {
        /// Source cell.
        from: CellId,
        /// Target cell.
        to: CellId,
    },
    /// SINR stayed below Q_out for the RLF timer.
    RadioLinkFailure {
        /// The cell that was serving.
        cell: CellId,
    },
    /// Re-established on `cell` after a failure.
    Reestablished {
        /// The new serving cell.
        cell: CellId,
    },
}

/// A timestamped link event.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LinkEvent {
    /// Simulated time, µs.
    pub at_us: u64,
    /// The UE.
    pub ue: UeId,
    /// What happened.
    pub kind: LinkEventKind,
}

/// Why a packet was lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum LossReason {
    /// The UE had no link (detached or in radio-link failure).
    NoLink,
    /// SINR too low for any data (zero rate).
    NoRate,
    /// All HARQ transmissions failed.
    HarqExhausted,
}

/// Outcome of one packet.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Delivery {
    /// Delivered at `at_us` after `harq_tries` transmissions.
    Delivered {
        /// Arrival time at the far end, µs.
        at_us: u64,
        /// HARQ transmissions used (1 = first try).
        harq_tries: u32,
    },
    /// Lost.
    Lost {
        /// Why.
        reason: LossReason,
    },
}

/// Counters and last radio figures of one UE.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LinkMetrics {
    /// State after the last step.
    pub state: LinkState,
    /// Serving cell (target during a handover); `None` when detached or failed.
    pub serving_cell: Option<CellId>,
    /// RSRP of the serving cell (of the best cell when none serves), dBm.
    pub rsrp_dbm: f64,
    /// Downlink SINR of the serving cell (of the best cell when none serves), dB.
    pub sinr_db: f64,
    /// Uplink SINR at the serving (or best) cell, dB.
    pub ul_sinr_db: f64,
    /// Terrain line of sight to the serving (or best) cell.
    pub line_of_sight: bool,
    /// Downlink rate share, bit/s (0 without a link). Filled by [`crate::RadioSim::metrics`].
    pub dl_rate_bps: f64,
    /// Uplink rate share, bit/s (0 without a link). Filled by [`crate::RadioSim::metrics`].
    pub ul_rate_bps: f64,
    /// Handovers started.
    pub handovers: u32,
    /// Radio-link failures declared.
    pub radio_link_failures: u32,
    /// Time spent without a usable link (detached, failed, or in handover interruption)
    /// between steps, µs.
    pub outage_us: u64,
    /// Packets offered to [`crate::RadioSim::transmit`].
    pub packets_sent: u64,
    /// Packets lost.
    pub packets_lost: u64,
    /// Time of the last step, µs.
    pub last_step_us: u64,
}

impl Default for LinkMetrics {
    fn default() -> Self {
        Self {
            state: LinkState::Detached,
            serving_cell: None,
            rsrp_dbm: f64::NEG_INFINITY,
            sinr_db: f64::NEG_INFINITY,
            ul_sinr_db: f64::NEG_INFINITY,
            line_of_sight: false,
            dl_rate_bps: 0.0,
            ul_rate_bps: 0.0,
            handovers: 0,
            radio_link_failures: 0,
            outage_us: 0,
            packets_sent: 0,
            packets_lost: 0,
            last_step_us: 0,
        }
    }
}

/// The radio link of one UE: state machine plus its own seeded random generator (HARQ
/// draws). Drive it with [`UeLink::step`] in simulated time; time must not go backwards
/// (an earlier `now_us` is treated as the last step's time).
#[derive(Debug, Clone)]
pub struct UeLink {
    id: UeId,
    state: LinkState,
    rng: ChaCha8Rng,
    /// A3 entering times, one per neighbour cell that is offset-better than the serving cell
    /// (3GPP TS 38.331: the time-to-trigger runs per neighbour).
    ttt: Vec<(CellId, u64)>,
    below_since: Option<u64>,
    last_step_us: Option<u64>,
    events: Vec<LinkEvent>,
    metrics: LinkMetrics,
    busy_until_us: [u64; 2],
    meas: Vec<CellMeasurement>,
}

fn dir_index(dir: Direction) -> usize {
    match dir {
        Direction::Downlink => 0,
        Direction::Uplink => 1,
    }
}

impl UeLink {
    /// A detached UE whose HARQ draws come from `seed`.
    pub fn new(id: UeId, seed: u64) -> Self {
        Self {
            id,
            state: LinkState::Detached,
            rng: ChaCha8Rng::seed_from_u64(seed),
            ttt: Vec::new(),
            below_since: None,
            last_step_us: None,
            events: Vec::new(),
            metrics: LinkMetrics::default(),
            busy_until_us: [0; 2],
            meas: Vec::new(),
        }
    }

    /// Its id.
    pub fn id(&self) -> UeId {
        self.id
    }

    /// Current state.
    pub fn state(&self) -> LinkState {
        self.state
    }

    /// Counters and last radio figures (rates are 0 here; see [`crate::RadioSim::metrics`]).
    pub fn metrics(&self) -> &LinkMetrics {
        &self.metrics
    }

    /// The cell measurements of the last step.
    pub fn measurements(&self) -> &[CellMeasurement] {
        &self.meas
    }

    /// Removes and returns the events since the last call, oldest first.
    pub fn take_events(&mut self) -> Vec<LinkEvent> {
        std::mem::take(&mut self.events)
    }

    fn push(&mut self, at_us: u64, kind: LinkEventKind) {
        self.events.push(LinkEvent {
            at_us,
            ue: self.id,
            kind,
        });
    }

    fn rsrp_of(&self, cell: CellId) -> f64 {
        self.meas
            .iter()
            .find(|m| m.cell == cell)
            .map_or(f64::NEG_INFINITY, |m| m.rsrp_dbm)
    }

    /// Best cell by RSRP if its SINR reaches Q_in.
    fn establishable<T: TerrainProfile>(&self, net: &CellNetwork<T>) -> Option<CellId> {
        let best = CellNetwork::<T>::best_cell(&self.meas)?;
        let q_in = net.config().mobility.reestablishment_min_sinr_db;
        (net.dl_sinr_db(&self.meas, best) >= q_in).then_some(best)
    }

    /// Advances the link to `now_us` with the UE at `(x, y)` (its antenna is the configured
    /// height above the terrain there) and returns the new state. Events go to
    /// [`UeLink::take_events`].
    pub fn step<T: TerrainProfile>(
        &mut self,
        net: &CellNetwork<T>,
        now_us: u64,
        x: f64,
        y: f64,
    ) -> LinkState {
        let now = self.last_step_us.map_or(now_us, |t| now_us.max(t));
        if let Some(last) = self.last_step_us {
            if !self.state.is_connected() {
                self.metrics.outage_us += now - last;
            }
        }
        self.last_step_us = Some(now);
        let ue = net.ue_antenna(x, y);
        let mut meas = std::mem::take(&mut self.meas);
        net.measure_into(ue, &mut meas);
        self.meas = meas;
        let retry_delay_us = net.config().mobility.reestablishment_delay_us;

        match self.state {
            LinkState::Detached => {
                if let Some(cell) = self.establishable(net) {
                    self.state = LinkState::Connected { cell };
                    self.push(now, LinkEventKind::Attached { cell });
                }
            }
            LinkState::RadioLinkFailure {
                since_us,
                retry_at_us,
            } => {
                if now >= retry_at_us {
                    if let Some(cell) = self.establishable(net) {
                        self.state = LinkState::Connected { cell };
                        self.push(now, LinkEventKind::Reestablished { cell });
                    } else {
                        self.state = LinkState::RadioLinkFailure {
                            since_us,
                            retry_at_us: now.saturating_add(retry_delay_us),
                        };
                    }
                }
            }
            LinkState::HandoverInProgress { from, to, until_us } => {
                if now >= until_us {
                    self.state = LinkState::Connected { cell: to };
                    self.push(until_us, LinkEventKind::HandoverCompleted { from, to });
                    self.step_connected(net, now, to);
                }
            }
            LinkState::Connected { cell } => self.step_connected(net, now, cell),
        }
        self.refresh_metrics(net, now);
        self.state
    }

    fn step_connected<T: TerrainProfile>(&mut self, net: &CellNetwork<T>, now: u64, cell: CellId) {
        let mob = &net.config().mobility;
        let sinr = net.dl_sinr_db(&self.meas, cell);
        if sinr < mob.rlf_sinr_threshold_db {
            self.below_since.get_or_insert(now);
        } else {
            self.below_since = None;
        }
        // A3: a neighbour stronger than serving + hysteresis for time-to-trigger. Each
        // neighbour keeps its own timer, so two neighbours of similar strength taking turns
        // as the best one do not keep restarting it.
        let serving_rsrp = self.rsrp_of(cell);
        let mut entering = std::mem::take(&mut self.ttt);
        entering.retain(|(c, _)| {
            self.meas.iter().any(|m| {
                m.cell == *c && m.cell != cell && m.rsrp_dbm > serving_rsrp + mob.hysteresis_db
            })
        });
        for m in &self.meas {
            if m.cell != cell
                && m.rsrp_dbm > serving_rsrp + mob.hysteresis_db
                && !entering.iter().any(|(c, _)| *c == m.cell)
            {
                entering.push((m.cell, now));
            }
        }
        // of the neighbours whose condition held for time-to-trigger, the strongest
        let target = entering
            .iter()
            .filter(|(_, since)| now - since >= mob.time_to_trigger_us)
            .filter_map(|(c, _)| self.meas.iter().find(|m| m.cell == *c))
            .fold(None::<&CellMeasurement>, |best, m| match best {
                Some(b) if b.rsrp_dbm >= m.rsrp_dbm => Some(b),
                _ => Some(m),
            })
            .map(|m| m.cell);
        self.ttt = entering;
        if let Some(to) = target {
            self.ttt.clear();
            self.below_since = None;
            self.state = LinkState::HandoverInProgress {
                from: cell,
                to,
                until_us: now.saturating_add(mob.handover_interruption_us),
            };
            self.metrics.handovers += 1;
            self.push(now, LinkEventKind::HandoverStarted { from: cell, to });
            return;
        }
        if let Some(since) = self.below_since {
            if now - since >= mob.rlf_timer_us {
                self.below_since = None;
                self.ttt.clear();
                self.state = LinkState::RadioLinkFailure {
                    since_us: now,
                    retry_at_us: now.saturating_add(mob.reestablishment_delay_us),
                };
                self.metrics.radio_link_failures += 1;
                self.push(now, LinkEventKind::RadioLinkFailure { cell });
            }
        }
    }

    fn refresh_metrics<T: TerrainProfile>(&mut self, net: &CellNetwork<T>, now: u64) {
        let serving = self.state.data_cell();
        let shown = serving.or_else(|| CellNetwork::<T>::best_cell(&self.meas));
        self.metrics.state = self.state;
        self.metrics.serving_cell = serving;
        self.metrics.last_step_us = now;
        if let Some(m) = shown.and_then(|c| self.meas.iter().find(|m| m.cell == c)) {
            self.metrics.rsrp_dbm = m.rsrp_dbm;
            self.metrics.sinr_db = net.dl_sinr_db(&self.meas, m.cell);
            self.metrics.ul_sinr_db = net.ul_sinr_db(m);
            self.metrics.line_of_sight = m.line_of_sight;
        }
    }

    /// SINR of the data cell in `dir` from the last step's measurements.
    pub fn data_sinr_db<T: TerrainProfile>(
        &self,
        net: &CellNetwork<T>,
        dir: Direction,
    ) -> Option<f64> {
        let cell = self.state.data_cell()?;
        let m = self.meas.iter().find(|m| m.cell == cell)?;
        Some(match dir {
            Direction::Downlink => net.dl_sinr_db(&self.meas, cell),
            Direction::Uplink => net.ul_sinr_db(m),
        })
    }

    /// Sends one packet of `bytes` at `now_us` in `dir`, with the cell's resources shared by
    /// `sharing_ues` UEs (≥ 1), using the link state of the last step.
    ///
    /// Delay = core (`core_delay_us`) + wait for a slot of the right direction in the TDD
    /// pattern (uplink: scheduling-request slot, then `grant_delay_slots`, then the next
    /// uplink slot) + transmission (bytes / rate share, at least one slot) + one HARQ RTT
    /// per retransmission. During a handover interruption the packet waits for its end;
    /// without a link it is lost. Same-direction packets of a UE are serialised.
    pub fn transmit<T: TerrainProfile>(
        &mut self,
        net: &CellNetwork<T>,
        now_us: u64,
        dir: Direction,
        bytes: usize,
        sharing_ues: usize,
    ) -> Delivery {
        self.metrics.packets_sent += 1;
        let out = self.deliver(net, now_us, dir, bytes, sharing_ues);
        if matches!(out, Delivery::Lost { .. }) {
            self.metrics.packets_lost += 1;
        }
        out
    }

    fn deliver<T: TerrainProfile>(
        &mut self,
        net: &CellNetwork<T>,
        now_us: u64,
        dir: Direction,
        bytes: usize,
        sharing_ues: usize,
    ) -> Delivery {
        let start = match self.state {
            LinkState::Connected { .. } => now_us,
            LinkState::HandoverInProgress { until_us, .. } => now_us.max(until_us),
            _ => {
                return Delivery::Lost {
                    reason: LossReason::NoLink,
                }
            }
        };
        let Some(full_sinr) = self.data_sinr_db(net, dir) else {
            return Delivery::Lost {
                reason: LossReason::NoLink,
            };
        };
        let (sinr, fraction) = allocation(net, full_sinr, dir);
        let rate = shared_fraction(fraction, sharing_ues) * net.full_cell_rate_bps(sinr, dir);
        if rate.is_nan() || rate <= 0.0 {
            return Delivery::Lost {
                reason: LossReason::NoRate,
            };
        }
        let link = &net.config().link;
        let tdd = net.tdd();
        let slot = tdd.slot_us();
        let (tx_slot, post_air_core) = match dir {
            Direction::Downlink => (
                tdd.next_slot_start(
                    start.saturating_add(link.core_delay_us),
                    Direction::Downlink,
                ),
                0,
            ),
            Direction::Uplink => {
                let sr = tdd.next_slot_start(start, Direction::Uplink);
                let granted = sr.saturating_add(link.grant_delay_slots.saturating_mul(slot));
                (
                    tdd.next_slot_start(granted, Direction::Uplink),
                    link.core_delay_us,
                )
            }
        };
        let d = dir_index(dir);
        let tx_start = tx_slot.max(self.busy_until_us[d]);
        let bits = bytes as f64 * 8.0;
        let tx_us = (bits / rate * 1e6).ceil() as u64;
        self.busy_until_us[d] = tx_start.saturating_add(tx_us);
        let air_done = tx_start.saturating_add(tx_us.max(slot));
        let max_tries = link.harq_max_tries.max(1);
        let mut tries = 1;
        loop {
            let p_fail = harq_bler(sinr, tries, link);
            let u: f64 = self.rng.random();
            if u >= p_fail {
                break;
            }
            if tries >= max_tries {
                return Delivery::Lost {
                    reason: LossReason::HarqExhausted,
                };
            }
            tries += 1;
        }
        Delivery::Delivered {
            at_us: air_done
                .saturating_add(u64::from(tries - 1).saturating_mul(link.harq_rtt_us))
                .saturating_add(post_air_core),
            harq_tries: tries,
        }
    }
}

/// The share of the carrier a UE gets: what its power allows (`fraction`, from
/// [`allocation`]) but no more than an equal share among the `sharing_ues` on its cell. A
/// power-limited UE on a few resource blocks is not slowed further by its neighbours: they
/// use the other blocks.
pub fn shared_fraction(fraction: f64, sharing_ues: usize) -> f64 {
    fraction.min(1.0 / sharing_ues.max(1) as f64)
}

/// The share of the carrier a packet is sent on and the SINR it sees there.
///
/// Downlink: the whole carrier. Uplink: a power-limited UE (full-carrier SINR below the
/// most robust MCS) is granted fewer resource blocks and concentrates its power on them —
/// SINR rises by 10·log10(1/fraction) — down to one resource block; otherwise the whole
/// carrier.
pub fn allocation<T: TerrainProfile>(
    net: &CellNetwork<T>,
    full_sinr_db: f64,
    dir: Direction,
) -> (f64, f64) {
    let floor = net.config().link.lowest_mcs_sinr_db;
    if dir == Direction::Downlink || full_sinr_db >= floor {
        return (full_sinr_db, 1.0);
    }
    let min_fraction = 1.0 / f64::from(net.config().carrier.resource_blocks().max(1));
    let fraction = 10f64
        .powf((full_sinr_db - floor) / 10.0)
        .clamp(min_fraction, 1.0);
    (full_sinr_db - 10.0 * fraction.log10(), fraction)
}
