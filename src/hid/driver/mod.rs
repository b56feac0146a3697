//! The OTP HID I/O side: the feature-report seam, hidapi, and the driver.

pub mod device;
pub mod hidapi;
pub mod transport;
