//! Truck perception: sensor models (lidar, GNSS/IMU), BEV rasterisation, the detector model
//! running on the `npu` runtime, and tracking.
//!
//! Placeholder crate: nothing here yet. Obstacles and their detection come with the perception
//! issue; until then vehicles follow routes and permissions without obstacle detection.
