//! proxyDHCP's flags, flattened into netboot-proxy's command line.

use std::net::Ipv4Addr;

/// proxyDHCP is off unless `--proxy-dhcp` names an interface.
#[derive(Debug, Clone, clap::Args)]
pub struct DhcpArgs {
    /// Answer PXE clients' DHCP on this interface with boot options (proxyDHCP, ports 67
    /// and 4011); it never hands out addresses. Off unless given.
    #[arg(
        long = "proxy-dhcp",
        env = "NETBOOT_PROXY_DHCP",
        value_name = "INTERFACE"
    )]
    pub interface: Option<String>,
    /// The address PXE clients are told to fetch from (next-server, and the LAN HTTP
    /// URLs) [default: the interface's IPv4 address]
    #[arg(
        long = "proxy-dhcp-address",
        env = "NETBOOT_PROXY_DHCP_ADDRESS",
        value_name = "IPV4"
    )]
    pub address: Option<Ipv4Addr>,
    /// Send iPXE the dispatcher on the LAN HTTPS listener (`--https-listen`) instead of
    /// plain HTTP: for a LAN whose every iPXE build trusts the site's LAN CA (a build that
    /// cannot would fail to chain). Firmware HTTP Boot is still sent plain HTTP: it holds no
    /// LAN CA. Chosen explicitly; off by default.
    #[arg(
        long = "proxy-dhcp-https",
        env = "NETBOOT_PROXY_DHCP_HTTPS",
        requires = "https_listen"
    )]
    pub https: bool,
    /// proxyDHCP answers per second at most, to all clients together; the rest are
    /// dropped and counted.
    #[arg(
        long = "proxy-dhcp-rate",
        env = "NETBOOT_PROXY_DHCP_RATE",
        default_value_t = 50,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub rate: u32,
    /// proxyDHCP answers per second at most to one client (by hardware address), so one
    /// flooding host cannot use up --proxy-dhcp-rate; a PXE boot needs two or three.
    #[arg(
        long = "proxy-dhcp-client-rate",
        env = "NETBOOT_PROXY_DHCP_CLIENT_RATE",
        default_value_t = 4,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub client_rate: u32,
}

impl DhcpArgs {
    pub fn rates(&self) -> Rates {
        Rates {
            total: self.rate,
            per_client: self.client_rate,
        }
    }
}

/// How many replies may go out a second.
#[derive(Debug, Clone, Copy)]
pub struct Rates {
    /// To all clients together.
    pub total: u32,
    /// To any one client.
    pub per_client: u32,
}
