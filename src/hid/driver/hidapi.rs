//! The HID seam on real devices, through the `hidapi` crate's pure-Rust
//! hidraw backend (`linux-native-basic-udev`: no libudev or libusb needed).
//! Enumeration keeps the interfaces a profile's [`HidInterfaceMatch`] claims.
//!
//! Caveat: hidapi copies each written report into a plain `Vec` before the
//! ioctl, so key bytes of a slot write briefly sit in memory keyward cannot
//! wipe (8 bytes at a time; keyward's own buffers are zeroized).

use std::ffi::CString;

use crate::hid::codec::frame::REPORT_LEN;
use crate::hid::driver::transport::{
    HidBus, HidDeviceInfo, HidInterfaceMatch, HidTransport, TransportError, REPORT_ID,
};

/// The system's HID devices.
pub struct HidapiBus {
    api: hidapi::HidApi,
}

impl std::fmt::Debug for HidapiBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HidapiBus").finish_non_exhaustive()
    }
}

/// One open hidraw device.
pub struct HidapiDevice {
    device: hidapi::HidDevice,
}

impl std::fmt::Debug for HidapiDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HidapiDevice").finish_non_exhaustive()
    }
}

fn backend(error: hidapi::HidError) -> TransportError {
    let message = error.to_string();
    // The hidraw ioctls fail with ENODEV once the key is pulled out.
    if message.contains("ENODEV") || message.contains("No such device") {
        TransportError::Disconnected
    } else {
        TransportError::Backend { message }
    }
}

impl HidapiBus {
    pub fn new() -> Result<Self, TransportError> {
        let api = hidapi::HidApi::new().map_err(backend)?;
        Ok(HidapiBus { api })
    }
}

impl HidBus for HidapiBus {
    type Device = HidapiDevice;

    fn enumerate(
        &mut self,
        wanted: &HidInterfaceMatch,
    ) -> Result<Vec<HidDeviceInfo>, TransportError> {
        self.api.reset_devices().map_err(backend)?;
        for &product_id in &wanted.product_ids {
            self.api
                .add_devices(wanted.vendor_id, product_id)
                .map_err(backend)?;
        }
        let mut found: Vec<HidDeviceInfo> = self
            .api
            .device_list()
            .filter_map(|info| {
                Some(HidDeviceInfo {
                    path: info.path().to_str().ok()?.to_owned(),
                    vendor_id: info.vendor_id(),
                    product_id: info.product_id(),
                    usage_page: info.usage_page(),
                    usage: info.usage(),
                    serial: info.serial_number().map(str::to_owned),
                })
            })
            .filter(|info| wanted.matches(info))
            .collect();
        found.sort_by(|a, b| a.path.cmp(&b.path));
        found.dedup_by(|a, b| a.path == b.path);
        Ok(found)
    }

    fn open(&mut self, info: &HidDeviceInfo) -> Result<HidapiDevice, TransportError> {
        let path = CString::new(info.path.as_bytes()).map_err(|_| TransportError::NotFound {
            path: info.path.clone(),
        })?;
        let device = self.api.open_path(&path).map_err(backend)?;
        Ok(HidapiDevice { device })
    }
}

impl HidTransport for HidapiDevice {
    fn send_feature_report(&mut self, report: &[u8; REPORT_LEN]) -> Result<(), TransportError> {
        let mut buf = zeroize::Zeroizing::new([0u8; REPORT_LEN + 1]);
        buf[0] = REPORT_ID;
        buf[1..].copy_from_slice(report);
        self.device.send_feature_report(&buf[..]).map_err(backend)
    }

    fn get_feature_report(&mut self) -> Result<[u8; REPORT_LEN], TransportError> {
        let mut buf = [0u8; REPORT_LEN + 1];
        buf[0] = REPORT_ID;
        let len = self.device.get_feature_report(&mut buf).map_err(backend)?;
        // hidraw counts the report id byte (ykman reads the same 9 bytes).
        if len != REPORT_LEN + 1 {
            return Err(TransportError::ShortReport { len });
        }
        let mut report = [0u8; REPORT_LEN];
        report.copy_from_slice(&buf[1..]);
        Ok(report)
    }
}
