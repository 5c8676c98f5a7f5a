//! The Bevy world.
