//! The truck↔dispatcher protocol: one module per direction, and [`tablet`], the fleet
//! tablets of manned vehicles. Every message travels in an
//! envelope carrying the truck id, a per-sender sequence number and the send time, and is
//! encoded with `postcard` (compact binary serde).

pub mod dispatcher_to_truck;
pub mod tablet;
pub mod truck_to_dispatcher;

use crate::ids::TruckId;
use crate::time::SimTime;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use dispatcher_to_truck::{DispatchMsg, PermissionGrant, StopReason, Task};
pub use truck_to_dispatcher::{MissionState, Telemetry, TruckInfo, TruckMsg};

/// A message with its header.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    pub truck: TruckId,
    pub seq: u64,
    pub sent: SimTime,
    pub body: T,
}

/// Truck → dispatcher.
pub type UpMsg = Envelope<TruckMsg>;
/// Dispatcher → truck.
pub type DownMsg = Envelope<DispatchMsg>;

/// A message that could not be decoded.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("undecodable message ({len} bytes): {reason}")]
pub struct DecodeError {
    pub len: usize,
    pub reason: String,
}

/// A message that could not be encoded (postcard refuses only types it cannot represent,
/// such as maps with non-string keys or sequences of unknown length; never plain data, but
/// a failure must surface rather than send an empty message).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("message could not be encoded: {reason}")]
pub struct EncodeError {
    pub reason: String,
}

/// Encodes a message.
pub fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, EncodeError> {
    postcard::to_stdvec(msg).map_err(|e| EncodeError {
        reason: e.to_string(),
    })
}

/// Decodes a message; garbage gives an error, never a panic.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    postcard::from_bytes(bytes).map_err(|e| DecodeError {
        len: bytes.len(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{LaneId, LoaderId, RouteId};
    use crate::route::Route;
    use proptest::prelude::*;

    #[test]
    fn tasks_and_states_read_as_words() {
        use crate::ids::DumpId;
        assert_eq!(
            Task::Load {
                loader: LoaderId(6)
            }
            .to_string(),
            "Load at loader 6"
        );
        assert_eq!(Task::Dump { dump: DumpId(2) }.to_string(), "Dump at dump 2");
        assert_eq!(Task::Park.to_string(), "Park");
        assert_eq!(StopReason::LinkLost.to_string(), "link lost");
        for s in MissionState::ALL {
            let words = s.to_string();
            assert!(
                !words.is_empty() && words.chars().all(|c| c.is_lowercase() || c == ' '),
                "{s:?} reads {words:?}"
            );
        }
        assert_eq!(
            MissionState::QueueLoader.to_string(),
            "queueing at the loader"
        );
    }

    #[test]
    fn encode_failure_surfaces() {
        struct Refused;
        impl Serialize for Refused {
            fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
                Err(serde::ser::Error::custom("refused on purpose"))
            }
        }
        let err = encode(&Refused).expect_err("must not be an empty message");
        assert!(!err.reason.is_empty(), "{err}");
    }

    #[test]
    fn round_trip_and_compact() {
        let up = UpMsg {
            truck: TruckId(7),
            seq: 42,
            sent: SimTime(1_500_000),
            body: TruckMsg::Telemetry(Telemetry {
                pos: [1.0, 2.0, 3.0],
                heading: 0.5,
                speed: 8.0,
                route: Some(RouteId(3)),
                progress_m: 120.0,
                payload_t: 290.0,
                state: MissionState::Hauling,
            }),
        };
        let bytes = encode(&up).unwrap();
        assert!(bytes.len() < 80, "telemetry is {} bytes", bytes.len());
        assert_eq!(decode::<UpMsg>(&bytes).unwrap(), up);
        let down = DownMsg {
            truck: TruckId(7),
            seq: 1,
            sent: SimTime(2),
            body: DispatchMsg::Assignment {
                task: Task::Load {
                    loader: LoaderId(2),
                },
                route: Route {
                    id: RouteId(9),
                    lanes: vec![LaneId(1), LaneId(4)],
                    start_s: 3.0,
                    end_s: 50.0,
                },
            },
        };
        assert_eq!(decode::<DownMsg>(&encode(&down).unwrap()).unwrap(), down);
    }

    proptest! {
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode::<UpMsg>(&bytes);
            let _ = decode::<DownMsg>(&bytes);
        }
    }
}
