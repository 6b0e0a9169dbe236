//! How a Raspberry Pi 4 or 5 bootloader is recognised and answered in DHCP, for
//! `netbootc dhcp-config` and the proxy's proxyDHCP alike.
//!
//! The EEPROM bootloader sends vendor class [`VENDOR_CLASS`], the same string a PC's BIOS
//! PXE ROM sends, so the class alone cannot tell them apart: a Pi is a client of that class
//! whose MAC is in one of Raspberry Pi's OUIs ([`is_pi_mac`]). It wants PXE option 43
//! with a boot menu entry "Raspberry Pi Boot" ([`OPTION_43`]); a PC ROM handed that menu
//! would show it and try a boot server, so no other client gets it.

use crate::Mac;

/// Option 60 of a Pi 4 or 5 bootloader's DISCOVER.
pub const VENDOR_CLASS: &str = "PXEClient:Arch:00000:UNDI:002001";
/// The menu entry text the bootloader looks for in option 43.
pub const MENU_ENTRY: &str = "Raspberry Pi Boot";

/// PXE vendor options (option 43), RFC 4578 / PXE 2.1: discovery control 3 (no broadcast
/// or multicast discovery: boot from the answer), a menu prompt of timeout 0 ("PXE"),
/// and a boot menu with one item of type 0 named [`MENU_ENTRY`]; then the end option.
pub const OPTION_43: &[u8] = &[
    6, 1, 3, // PXE_DISCOVERY_CONTROL
    10, 4, 0, b'P', b'X', b'E', // PXE_MENU_PROMPT: timeout 0, "PXE"
    9, 20, 0, 0, 17, // PXE_BOOT_MENU: type 0, 17 bytes of text
    b'R', b'a', b's', b'p', b'b', b'e', b'r', b'r', b'y', b' ', b'P', b'i', b' ', b'B', b'o', b'o',
    b't', 255,
];

/// Raspberry Pi Ltd's (and Raspberry Pi Trading's) IEEE OUIs: every Pi 4 and Pi 5
/// Ethernet MAC starts with one of them.
pub const OUIS: &[[u8; 3]] = &[
    [0x28, 0xcd, 0xc1],
    [0x2c, 0xcf, 0x67],
    [0x88, 0xa2, 0x9e],
    [0xb8, 0x27, 0xeb],
    [0xd8, 0x3a, 0xdd],
    [0xdc, 0xa6, 0x32],
    [0xe4, 0x5f, 0x01],
];

/// Whether `mac` is in a Raspberry Pi OUI.
pub fn is_pi_mac(mac: &Mac) -> bool {
    let bytes = mac.bytes();
    OUIS.iter().any(|oui| bytes[..3] == oui[..])
}

/// Whether a DISCOVER with vendor class `class` from `mac` is a Pi bootloader's.
pub fn is_pi_bootloader(class: &[u8], mac: &Mac) -> bool {
    class == VENDOR_CLASS.as_bytes() && is_pi_mac(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_43_is_well_formed_and_names_the_menu_entry() {
        // Walk it as a client does: code, length, value; the menu's text is the entry.
        let mut at = 0;
        let mut menu = None;
        while OPTION_43[at] != 255 {
            let (code, len) = (OPTION_43[at], usize::from(OPTION_43[at + 1]));
            let value = &OPTION_43[at + 2..at + 2 + len];
            if code == 9 {
                assert_eq!(usize::from(value[2]), value.len() - 3);
                menu = Some(&value[3..]);
            }
            at += 2 + len;
        }
        assert_eq!(at, OPTION_43.len() - 1);
        assert_eq!(menu, Some(MENU_ENTRY.as_bytes()));
    }

    #[test]
    #[allow(clippy::unwrap_used)]
    fn only_pi_macs_with_the_bootloaders_class_are_pis() {
        let pi = Mac::parse("d8:3a:dd:10:20:01").unwrap();
        let pc = Mac::parse("52:54:00:aa:00:01").unwrap();
        assert!(is_pi_bootloader(VENDOR_CLASS.as_bytes(), &pi));
        assert!(!is_pi_bootloader(VENDOR_CLASS.as_bytes(), &pc));
        assert!(!is_pi_bootloader(b"PXEClient:Arch:00007:UNDI:003016", &pi));
    }
}
