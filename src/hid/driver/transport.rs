//! The HID seam: one open device moves 8-byte feature reports (report id 0);
//! a bus finds devices by USB ids and opens them. Real hidraw devices
//! ([`super::hidapi`]), the simulated key ([`crate::hid::sim`]) and scripted test
//! transports all sit behind it.

use std::sync::{Arc, Mutex};

use crate::hid::codec::frame::REPORT_LEN;

/// The report id every YubiKey OTP feature report uses.
pub const REPORT_ID: u8 = 0;

/// Errors moving reports. `Disconnected` is an unplug.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    #[error("the device was unplugged")]
    Disconnected,
    #[error("no HID device at {path}")]
    NotFound { path: String },
    #[error(
        "the device returned a feature report of {len} bytes; 8 (plus the report id) expected"
    )]
    ShortReport { len: usize },
    #[error("HID backend: {message}")]
    Backend { message: String },
}

/// One open device.
pub trait HidTransport {
    /// Writes an 8-byte feature report (report id 0).
    fn send_feature_report(&mut self, report: &[u8; REPORT_LEN]) -> Result<(), TransportError>;
    /// Reads an 8-byte feature report (report id 0).
    fn get_feature_report(&mut self) -> Result<[u8; REPORT_LEN], TransportError>;
}

impl<T: HidTransport + ?Sized> HidTransport for &mut T {
    fn send_feature_report(&mut self, report: &[u8; REPORT_LEN]) -> Result<(), TransportError> {
        (**self).send_feature_report(report)
    }
    fn get_feature_report(&mut self) -> Result<[u8; REPORT_LEN], TransportError> {
        (**self).get_feature_report()
    }
}

impl<T: HidTransport + ?Sized> HidTransport for Box<T> {
    fn send_feature_report(&mut self, report: &[u8; REPORT_LEN]) -> Result<(), TransportError> {
        (**self).send_feature_report(report)
    }
    fn get_feature_report(&mut self) -> Result<[u8; REPORT_LEN], TransportError> {
        (**self).get_feature_report()
    }
}

/// A device shared with another owner (a simulated key the test also touches,
/// or a device a watcher thread polls). A poisoned lock reads as an unplug.
impl<T: HidTransport + ?Sized> HidTransport for Arc<Mutex<T>> {
    fn send_feature_report(&mut self, report: &[u8; REPORT_LEN]) -> Result<(), TransportError> {
        self.lock()
            .map_err(|_| TransportError::Disconnected)?
            .send_feature_report(report)
    }
    fn get_feature_report(&mut self) -> Result<[u8; REPORT_LEN], TransportError> {
        self.lock()
            .map_err(|_| TransportError::Disconnected)?
            .get_feature_report()
    }
}

/// Which HID interfaces a profile claims: USB vendor and products, and the
/// report-descriptor usage of the interface (the keyboard one for OTP slots).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HidInterfaceMatch {
    pub vendor_id: u16,
    pub product_ids: Vec<u16>,
    pub usage_page: u16,
    pub usage: u16,
}

impl HidInterfaceMatch {
    /// True for an interface this profile drives. Backends that cannot read
    /// usages report 0/0, which is accepted on the USB ids alone.
    pub fn matches(&self, info: &HidDeviceInfo) -> bool {
        let usage_known = info.usage_page != 0 || info.usage != 0;
        info.vendor_id == self.vendor_id
            && self.product_ids.contains(&info.product_id)
            && (!usage_known || (info.usage_page == self.usage_page && info.usage == self.usage))
    }
}

/// One HID interface found on the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HidDeviceInfo {
    /// Backend path (a hidraw node on Linux).
    pub path: String,
    pub vendor_id: u16,
    pub product_id: u16,
    pub usage_page: u16,
    pub usage: u16,
    /// USB iSerial, when the key shows it.
    pub serial: Option<String>,
}

/// Finds and opens devices.
pub trait HidBus {
    type Device: HidTransport;
    /// The interfaces that match, in a stable order (by path).
    fn enumerate(
        &mut self,
        wanted: &HidInterfaceMatch,
    ) -> Result<Vec<HidDeviceInfo>, TransportError>;
    fn open(&mut self, info: &HidDeviceInfo) -> Result<Self::Device, TransportError>;
}
