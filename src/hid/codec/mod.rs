//! The pure OTP HID codec: the CRC, frames and status reports, slot
//! configurations and access codes, the keyboard layout a key's typing is
//! read with, and the firmware profile of OTP keys.
//! No I/O, no clock.

pub mod config;
pub mod crc;
pub mod frame;
pub mod keyboard;
pub mod profile;
