//! The fleet tablet of a manned vehicle (a light vehicle, a water cart) ↔ the dispatcher.
//!
//! Real mines put a tablet in every manned vehicle: it reports the vehicle's position to the
//! fleet system and shows the driver the road the system has given it. Here the tablet asks
//! for a route to where the driver wants to go and receives the same permissions as a truck
//! (a route and a grant along it, in the dispatcher's one reservation system), so the
//! autonomous trucks are never granted road a manned vehicle holds.
//!
//! The messages carry their own [`TABLET_PROTOCOL_VERSION`]; [`decode_report`] and
//! [`decode_reply`] refuse another version rather than misread it.

use super::{decode, DecodeError, PermissionGrant};
use crate::ids::{LaneId, RouteId};
use crate::route::Route;
use crate::time::SimTime;
use serde::{Deserialize, Serialize};

/// Version of the tablet messages' layout; raised when a field changes.
pub const TABLET_PROTOCOL_VERSION: u16 = 1;

/// A manned vehicle's number (its own id space, apart from the trucks').
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct VehicleId(pub u32);

/// What kind of manned vehicle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum MannedKind {
    /// A pickup (supervisors, maintenance, surveyors).
    LightVehicle,
    /// A water cart damping the haul roads' dust.
    WaterCart,
}

impl MannedKind {
    pub const ALL: [MannedKind; 2] = [MannedKind::LightVehicle, MannedKind::WaterCart];

    pub fn name(self) -> &'static str {
        match self {
            MannedKind::LightVehicle => "light_vehicle",
            MannedKind::WaterCart => "water_cart",
        }
    }
}

/// Tablet → dispatcher: where the vehicle is and where its driver wants to go.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TabletReport {
    /// [`TABLET_PROTOCOL_VERSION`].
    pub version: u16,
    pub vehicle: VehicleId,
    pub kind: MannedKind,
    /// Per-vehicle sequence number (older or repeated reports are dropped).
    pub seq: u64,
    pub sent: SimTime,
    pub pos: [f64; 3],
    pub heading: f64,
    pub speed: f64,
    pub length_m: f64,
    pub width_m: f64,
    /// The route it follows (the last one the dispatcher gave it).
    pub route: Option<RouteId>,
    /// Its centre along that route, m.
    pub progress_m: f64,
    /// Where the driver wants to go: `(lane, s)`; `None` while it is content where it is.
    pub destination: Option<(LaneId, f64)>,
}

/// Dispatcher → tablet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TabletReply {
    /// [`TABLET_PROTOCOL_VERSION`].
    pub version: u16,
    pub vehicle: VehicleId,
    pub seq: u64,
    pub sent: SimTime,
    pub body: TabletCmd,
}

/// What the dispatcher tells a tablet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum TabletCmd {
    /// The route to the destination asked for (it starts a little behind the vehicle).
    Route(Route),
    /// The road it may drive: its centre up to `until_m` along the route, until `expires`.
    Permission(PermissionGrant),
    /// No route to that destination: pick another one.
    NoRoute { destination: (LaneId, f64) },
}

/// A tablet message of another protocol version.
fn check_version(v: u16, len: usize) -> Result<(), DecodeError> {
    if v == TABLET_PROTOCOL_VERSION {
        Ok(())
    } else {
        Err(DecodeError {
            len,
            reason: format!(
                "tablet protocol version {v}, this side speaks {TABLET_PROTOCOL_VERSION}"
            ),
        })
    }
}

/// Decodes a report; garbage or another version gives an error, never a panic.
pub fn decode_report(bytes: &[u8]) -> Result<TabletReport, DecodeError> {
    let r: TabletReport = decode(bytes)?;
    check_version(r.version, bytes.len())?;
    Ok(r)
}

/// Decodes a reply; garbage or another version gives an error, never a panic.
pub fn decode_reply(bytes: &[u8]) -> Result<TabletReply, DecodeError> {
    let r: TabletReply = decode(bytes)?;
    check_version(r.version, bytes.len())?;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::encode;

    fn report() -> TabletReport {
        TabletReport {
            version: TABLET_PROTOCOL_VERSION,
            vehicle: VehicleId(3),
            kind: MannedKind::WaterCart,
            seq: 9,
            sent: SimTime(1_000_000),
            pos: [10.0, -4.0, 2.0],
            heading: 0.3,
            speed: 5.5,
            length_m: 10.0,
            width_m: 4.0,
            route: Some(RouteId(7)),
            progress_m: 42.0,
            destination: Some((LaneId(4), 120.0)),
        }
    }

    #[test]
    fn round_trip_and_other_versions_refused() {
        let r = report();
        let bytes = encode(&r).expect("plain data encodes");
        assert!(bytes.len() < 100, "a report is {} bytes", bytes.len());
        assert_eq!(decode_report(&bytes), Ok(r.clone()));
        let old = TabletReport { version: 0, ..r };
        let e = decode_report(&encode(&old).expect("encodes")).expect_err("version 0");
        assert!(e.reason.contains("version 0"), "{e}");
        let reply = TabletReply {
            version: TABLET_PROTOCOL_VERSION,
            vehicle: VehicleId(3),
            seq: 1,
            sent: SimTime(5),
            body: TabletCmd::NoRoute {
                destination: (LaneId(1), 2.0),
            },
        };
        assert_eq!(decode_reply(&encode(&reply).expect("encodes")), Ok(reply));
        assert!(decode_reply(&[1, 2, 3]).is_err());
        assert!(decode_report(&[]).is_err());
    }
}
