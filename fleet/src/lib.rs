//! The dispatcher (sans-IO).
