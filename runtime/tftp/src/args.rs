//! The TFTP server's flags, flattened into netboot-proxy's command line.

use std::time::Duration;

use netboot_http::flags::positive_duration;

use crate::limits::TftpLimits;
use crate::packet::{MAX_BLKSIZE, MIN_BLKSIZE};

/// TFTP limits. Every flag also reads the environment variable shown in `--help`.
#[derive(Debug, Clone, clap::Args)]
pub struct TftpArgs {
    /// Largest block size granted to a client asking for one (RFC 2348); 1468 fills an
    /// Ethernet frame.
    #[arg(long, env = "NETBOOT_PROXY_TFTP_MAX_BLKSIZE", default_value_t = 1468,
          value_parser = clap::value_parser!(u16).range(i64::from(MIN_BLKSIZE)..=i64::from(MAX_BLKSIZE)))]
    pub tftp_max_blksize: u16,
    /// Largest window granted to a client asking for one (RFC 7440).
    #[arg(long, env = "NETBOOT_PROXY_TFTP_MAX_WINDOWSIZE", default_value_t = 64,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub tftp_max_windowsize: u16,
    /// Time before a block is sent again when the client names no timeout (RFC 2349).
    #[arg(long, env = "NETBOOT_PROXY_TFTP_TIMEOUT", default_value = "1s", value_parser = positive_duration)]
    pub tftp_timeout: Duration,
    /// Timeouts in a row after which a transfer is abandoned.
    #[arg(long, env = "NETBOOT_PROXY_TFTP_RETRIES", default_value_t = 5)]
    pub tftp_retries: u32,
    /// Retransmissions of a transfer's first packet before the client has acknowledged
    /// anything (small, so a spoofed request cannot turn the proxy into an amplifier).
    #[arg(long, env = "NETBOOT_PROXY_TFTP_INITIAL_RETRIES", default_value_t = 2)]
    pub tftp_initial_retries: u32,
    /// Transfers at once, in all; more requests get ERROR 0 "too many transfers".
    #[arg(long, env = "NETBOOT_PROXY_TFTP_MAX_TRANSFERS", default_value_t = 256)]
    pub tftp_max_transfers: usize,
    /// Transfers at once from one IP address.
    #[arg(
        long,
        env = "NETBOOT_PROXY_TFTP_MAX_TRANSFERS_PER_CLIENT",
        default_value_t = 8
    )]
    pub tftp_max_transfers_per_client: usize,
    /// Time the file source may take to open a file or to yield the bytes a transfer
    /// waits for (a cold object streaming from the origin) before the transfer fails.
    #[arg(long, env = "NETBOOT_PROXY_TFTP_STALL_TIMEOUT", default_value = "2m", value_parser = positive_duration)]
    pub tftp_stall_timeout: Duration,
    /// Time shutdown lets TFTP transfers in flight finish.
    #[arg(long, env = "NETBOOT_PROXY_TFTP_SHUTDOWN_GRACE", default_value = "5s", value_parser = positive_duration)]
    pub tftp_shutdown_grace: Duration,
    /// ERROR replies per second the listening port sends at most (malformed or refused
    /// requests); the rest are dropped.
    #[arg(long, env = "NETBOOT_PROXY_TFTP_ERROR_REPLIES", default_value_t = 100)]
    pub tftp_error_replies_per_second: u32,
}

impl TftpArgs {
    pub fn limits(&self) -> Result<TftpLimits, String> {
        if self.tftp_max_transfers == 0 || self.tftp_max_transfers_per_client == 0 {
            return Err(
                "--tftp-max-transfers and --tftp-max-transfers-per-client must be at least 1"
                    .into(),
            );
        }
        Ok(TftpLimits {
            max_blksize: self.tftp_max_blksize,
            max_windowsize: self.tftp_max_windowsize,
            timeout: self.tftp_timeout,
            retries: self.tftp_retries,
            initial_retries: self.tftp_initial_retries,
            max_transfers: self.tftp_max_transfers,
            max_transfers_per_client: self.tftp_max_transfers_per_client,
            stall_timeout: self.tftp_stall_timeout,
            shutdown_grace: self.tftp_shutdown_grace,
            error_replies_per_second: self.tftp_error_replies_per_second,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        tftp: TftpArgs,
    }

    #[test]
    fn defaults_match_the_default_limits() {
        let cli = Cli::try_parse_from(["x"]).unwrap();
        let limits = cli.tftp.limits().unwrap();
        let default = TftpLimits::default();
        assert_eq!(limits.max_blksize, default.max_blksize);
        assert_eq!(limits.max_windowsize, default.max_windowsize);
        assert_eq!(limits.timeout, default.timeout);
        assert_eq!(
            limits.max_transfers_per_client,
            default.max_transfers_per_client
        );
        assert!(Cli::try_parse_from(["x", "--tftp-max-blksize", "7"]).is_err());
        assert!(Cli::try_parse_from(["x", "--tftp-max-blksize", "65465"]).is_err());
        assert!(Cli::try_parse_from(["x", "--tftp-timeout", "0s"]).is_err());
        assert!(Cli::try_parse_from(["x", "--tftp-timeout", "3"]).is_err());
        let ms = Cli::try_parse_from(["x", "--tftp-timeout", "1500ms"]).unwrap();
        assert_eq!(
            ms.tftp.limits().unwrap().timeout,
            Duration::from_millis(1500)
        );
    }
}
