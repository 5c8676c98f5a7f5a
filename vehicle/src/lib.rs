//! Onboard truck autonomy (sans-IO).
