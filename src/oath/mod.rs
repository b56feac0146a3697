//! OATH tokens over PC/SC: the YKOATH codec ([`codec`]), the host driver
//! that speaks it to a token in a PC/SC reader ([`driver`]), and the virtual
//! token that answers it ([`sim`]).

pub mod codec;
pub mod driver;
pub mod sim;
