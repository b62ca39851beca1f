//! How a phone trusts the server it syncs with: which certificates prove the server's identity
//! over HTTPS, and whether plain `http://` may be used beyond this device.
//!
//! Bearer tokens, patrol logs and residents' addresses cross the link, so a phone speaks plain
//! HTTP only to its own loopback (tests, a server on the device) unless the app explicitly
//! allows it (an emulator reaching its host at `10.0.2.2`, a lab network). Over HTTPS the
//! platform's trust store verifies the server, or, for a deployment with its own certificate
//! authority, only the certificates the app gives.

#[cfg(feature = "client")]
use crate::error::{CoreError, Result};

/// What the phone trusts of a server; the default trusts the platform's authorities and speaks
/// plain HTTP to loopback only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct ServerTrust {
    /// PEM certificates (authorities, or the server's own) to verify the server with instead
    /// of the platform's trust store: a street's own certificate authority. Empty: the
    /// platform's store.
    #[cfg_attr(feature = "uniffi", uniffi(default))]
    pub certificates_pem: Vec<String>,
    /// Allows plain `http://` to hosts other than this device's loopback. The token and the
    /// records then cross the network in clear: for emulators and lab networks only.
    #[cfg_attr(feature = "uniffi", uniffi(default = false))]
    pub allow_plain_http: bool,
}

/// Whether the host of `url` is this device: a loopback address or `localhost`.
#[cfg(feature = "client")]
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// `InvalidInput` on `server_url` when the base URL `base` (as [`super::server_url`] gives it)
/// is plain `http://` to another host than loopback and `trust` does not allow that. Only the
/// phone's HTTP transport (feature `client`) connects anywhere.
#[cfg(feature = "client")]
pub(crate) fn check_plain_http(base: &str, trust: &ServerTrust) -> Result<()> {
    let url = url::Url::parse(base).map_err(|e| CoreError::InvalidInput {
        field: "server_url",
        reason: format!("{base:?} is not a server URL: {e}"),
    })?;
    if url.scheme() == "http" && !is_loopback(&url) && !trust.allow_plain_http {
        return Err(CoreError::InvalidInput {
            field: "server_url",
            reason: format!(
                "{base:?} is plain http:// to another device: the token and records would cross \
                 the network in clear; use https://, or allow plain HTTP explicitly \
                 (ServerTrust.allowPlainHttp) on a lab network"
            ),
        });
    }
    Ok(())
}

#[cfg(all(test, feature = "client"))]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_loopback_unless_allowed() {
        let strict = ServerTrust::default();
        let lax = ServerTrust { allow_plain_http: true, ..ServerTrust::default() };
        for ok in [
            "https://sync.example.org",
            "http://127.0.0.1:8080",
            "http://127.9.9.9",
            "http://[::1]:8080",
            "http://localhost:8080",
            "https://10.0.2.2",
        ] {
            check_plain_http(ok, &strict).unwrap();
        }
        for refused in ["http://sync.example.org", "http://10.0.2.2:8080", "http://[fe80::1]"] {
            match check_plain_http(refused, &strict) {
                Err(CoreError::InvalidInput { field: "server_url", reason }) => {
                    assert!(reason.contains("https://"), "{reason}")
                }
                other => panic!("{refused}: {other:?}"),
            }
            check_plain_http(refused, &lax).unwrap();
        }
    }
}
