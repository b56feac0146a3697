//! The pure OTP HID codec: no I/O, no clock.

pub mod config;
pub mod crc;
pub mod frame;
pub mod profile;
