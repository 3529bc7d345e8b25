//! How to connect: the base URL (normalised and checked), the credentials, and the client-side
//! limits (concurrency, read/write rates, retries, timeouts).
//!
//! This module only describes a connection; opening one is `Client::connect`'s job.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use secrecy::SecretString;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use url::Url;

use super::error::ApiError;

/// Everything [`Client::connect`](super::Client::connect) needs.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Base URL, e.g. `https://app.infisical.com`. A trailing `/` and `/api` are stripped.
    pub api_url: String,
    /// A ready-made token or universal-auth credentials.
    pub credentials: Credentials,
    /// The organization; found from the token when `None`.
    pub org_id: Option<String>,
    /// Maximum requests in flight, all kinds together (at least 1 is used).
    pub concurrency: usize,
    /// Client-side pacing of reads (GET, listing); `None` = no limit.
    pub read_rate: Option<Rate>,
    /// Client-side pacing of writes (PATCH, login, renew); `None` = no limit.
    pub write_rate: Option<Rate>,
    /// Retries per request for 5xx, timeouts, connection errors and truncated bodies.
    pub max_retries: u32,
    /// Timeout of one attempt (connect, send, read the whole body).
    pub request_timeout: Duration,
    /// Total budget of one request, retries and 429 waits included; `None` = unbounded.
    pub deadline: Option<Duration>,
    /// Accept plain `http://` for hosts other than loopback.
    pub allow_insecure_http: bool,
    /// A PEM file of extra trusted root certificates (a self-hosted instance's private CA),
    /// added to the system's roots. TLS verification is always on; this only widens whom it
    /// trusts.
    pub ca_cert: Option<PathBuf>,
}

impl ConnectOptions {
    /// Options with the defaults: concurrency 16, the rates of
    /// [`default_rates_for`](Self::default_rates_for), 4 retries, 30 s per attempt, a 15 min
    /// deadline per request, https only (except loopback).
    pub fn new(api_url: impl Into<String>, credentials: Credentials) -> Self {
        let api_url = api_url.into();
        let (read_rate, write_rate) = Self::default_rates_for(&api_url);
        ConnectOptions {
            api_url,
            credentials,
            org_id: None,
            concurrency: 16,
            read_rate,
            write_rate,
            max_retries: 4,
            request_timeout: Duration::from_secs(30),
            deadline: Some(Duration::from_secs(15 * 60)),
            allow_insecure_http: false,
            ca_cert: None,
        }
    }

    /// The README's defaults: on `*.infisical.com` hosts (Infisical Cloud) the Free plan's
    /// published per-IP limits, 200 reads and 90 writes per minute; elsewhere no client-side
    /// limit.
    pub fn default_rates_for(api_url: &str) -> (Option<Rate>, Option<Rate>) {
        let cloud = Url::parse(normalise_api_url(api_url).as_str())
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
            .is_some_and(|h| h == "infisical.com" || h.ends_with(".infisical.com"));
        if cloud {
            (Rate::per_minute(200.0), Rate::per_minute(90.0))
        } else {
            (None, None)
        }
    }
}

/// How idguard authenticates.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// A ready-made access token (`INFISICAL_TOKEN`), used as is.
    Token(SecretString),
    /// Machine-identity universal-auth credentials, exchanged for a token at connect time.
    UniversalAuth {
        /// The identity's client id.
        client_id: String,
        /// The client secret (never logged).
        client_secret: SecretString,
    },
}

/// The credentials environment variables are missing or incomplete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    /// Neither a token nor universal-auth credentials are set.
    #[error(
        "no credentials: set INFISICAL_TOKEN, or INFISICAL_UNIVERSAL_AUTH_CLIENT_ID and \
         INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET"
    )]
    Missing,
    /// One of the two universal-auth variables is set, the other is not.
    #[error("{present} is set but {missing} is not")]
    Incomplete {
        /// The variable that is set.
        present: &'static str,
        /// The variable that is missing or empty.
        missing: &'static str,
    },
}

const ENV_TOKEN: &str = "INFISICAL_TOKEN";
const ENV_CLIENT_ID: &str = "INFISICAL_UNIVERSAL_AUTH_CLIENT_ID";
const ENV_CLIENT_SECRET: &str = "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET";

impl Credentials {
    /// `INFISICAL_TOKEN`, else `INFISICAL_UNIVERSAL_AUTH_CLIENT_ID` +
    /// `INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET`; the error names the variables.
    pub fn from_env() -> Result<Credentials, CredentialsError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env) over any variable lookup (empty values count as unset).
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Credentials, CredentialsError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        if let Some(token) = get(ENV_TOKEN) {
            return Ok(Credentials::Token(SecretString::from(
                token.trim().to_owned(),
            )));
        }
        match (get(ENV_CLIENT_ID), get(ENV_CLIENT_SECRET)) {
            (Some(id), Some(secret)) => Ok(Credentials::UniversalAuth {
                client_id: id.trim().to_owned(),
                client_secret: SecretString::from(secret.trim().to_owned()),
            }),
            (Some(_), None) => Err(CredentialsError::Incomplete {
                present: ENV_CLIENT_ID,
                missing: ENV_CLIENT_SECRET,
            }),
            (None, Some(_)) => Err(CredentialsError::Incomplete {
                present: ENV_CLIENT_SECRET,
                missing: ENV_CLIENT_ID,
            }),
            (None, None) => Err(CredentialsError::Missing),
        }
    }
}

/// A request rate: `count` requests per second or per minute, evenly paced (burst 1). `count`
/// is a positive finite number and may be a fraction (`1.6/s`, `0.5/min`); the time between two
/// requests is between [`Rate::MIN_INTERVAL`] and [`Rate::MAX_INTERVAL`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    count: f64,
    unit: RateUnit,
}

// `count` is always finite (never NaN), so equality is an equivalence.
impl Eq for Rate {}

/// The unit a rate was given in (kept for display).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RateUnit {
    Second,
    Minute,
}

impl RateUnit {
    fn seconds(self) -> f64 {
        match self {
            RateUnit::Second => 1.0,
            RateUnit::Minute => 60.0,
        }
    }
}

impl Rate {
    /// The shortest time between two requests a rate may ask for (a million a second).
    pub const MIN_INTERVAL: Duration = Duration::from_micros(1);
    /// The longest time between two requests a rate may ask for (one a day).
    pub const MAX_INTERVAL: Duration = Duration::from_secs(24 * 3600);

    /// `count` requests per second; `None` unless `count` is positive, finite and within the
    /// [interval bounds](Rate::MIN_INTERVAL).
    pub fn per_second(count: f64) -> Option<Rate> {
        Rate::new(count, RateUnit::Second)
    }

    /// `count` requests per minute; `None` as for [`Rate::per_second`].
    pub fn per_minute(count: f64) -> Option<Rate> {
        Rate::new(count, RateUnit::Minute)
    }

    fn new(count: f64, unit: RateUnit) -> Option<Rate> {
        if !(count.is_finite() && count > 0.0) {
            return None;
        }
        let interval = unit.seconds() / count;
        let bounds = Rate::MIN_INTERVAL.as_secs_f64()..=Rate::MAX_INTERVAL.as_secs_f64();
        bounds.contains(&interval).then_some(Rate { count, unit })
    }

    /// Requests per second (`1.6/s` → 1.6, `30/min` → 0.5).
    pub fn per_second_f64(&self) -> f64 {
        self.count / self.unit.seconds()
    }

    /// The time between two requests at this rate, to the nearest nanosecond (`1.6/s` →
    /// 625 ms).
    pub fn interval(&self) -> Duration {
        let nanos = (self.unit.seconds() * 1e9 / self.count).round();
        // Within the interval bounds (checked on construction), so it fits in a u64.
        Duration::from_nanos(nanos as u64)
    }
}

impl fmt::Display for Rate {
    /// The count as given (shortest form: `1.6`, `200`, `0.5`) and its unit: `1.6/s`,
    /// `200/min`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.unit {
            RateUnit::Second => "s",
            RateUnit::Minute => "min",
        };
        write!(f, "{}/{unit}", self.count)
    }
}

/// A rate string that is not `N`, `N/s` or `N/min` with N a positive decimal number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid rate `{input}`: {reason}; expected N, N/s or N/min with N a positive decimal \
     number (e.g. 50, 1.6/s, 200/min, 0.5/min)"
)]
pub struct RateParseError {
    input: String,
    reason: &'static str,
}

impl FromStr for Rate {
    type Err = RateParseError;

    /// `"50"`, `"1.6"` or `"1.6/s"` = per second, `"200/min"` or `"0.5/min"` = per minute. The
    /// count is plain decimal digits with at most one `.` (no sign, exponent, `inf` or `NaN`).
    fn from_str(s: &str) -> Result<Rate, RateParseError> {
        let bad = |reason| RateParseError {
            input: s.chars().take(40).collect(),
            reason,
        };
        let (count, unit) = match s.trim().split_once('/') {
            Some((c, u)) => (c.trim(), u.trim().to_ascii_lowercase()),
            None => (s.trim(), "s".to_owned()),
        };
        let unit = match unit.as_str() {
            "s" | "sec" | "second" => RateUnit::Second,
            "m" | "min" | "minute" => RateUnit::Minute,
            _ => return Err(bad("the unit is not /s or /min")),
        };
        let decimal = count.bytes().any(|b| b.is_ascii_digit())
            && count.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            && count.bytes().filter(|b| *b == b'.').count() <= 1;
        if !decimal {
            return Err(bad("the count is not a decimal number"));
        }
        let count: f64 = count
            .parse()
            .map_err(|_| bad("the count is not a decimal number"))?;
        if count <= 0.0 {
            return Err(bad("the count must be above 0"));
        }
        Rate::new(count, unit)
            .ok_or_else(|| bad("out of range (between one request a day and a million a second)"))
    }
}

/// Reads the trusted root certificates of a PEM file (one or more `CERTIFICATE` blocks). A file
/// that cannot be read, is not PEM, or holds no certificate is an
/// [`ApiError::InvalidArgument`] naming the file.
pub fn load_ca_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ApiError> {
    let bad = |why: String| ApiError::InvalidArgument {
        detail: format!("CA certificate file {}: {why}", path.display()),
    };
    let pem = crate::input::read_capped(path, crate::input::CA_FILE_CAP, "CA certificate file")
        .map_err(|e| ApiError::InvalidArgument {
            detail: e.to_string(),
        })?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("not a PEM certificate bundle: {e}")))?;
    if certs.is_empty() {
        return Err(bad(
            "holds no PEM certificate (expected -----BEGIN CERTIFICATE----- blocks)".into(),
        ));
    }
    Ok(certs)
}

/// Strips whitespace, one trailing `/` and then one trailing `/api` (and a `/` before it), so
/// `https://x/api/`, `https://x/api` and `https://x/` all become `https://x`.
pub fn normalise_api_url(url: &str) -> String {
    let mut s = url.trim();
    s = s.strip_suffix('/').unwrap_or(s);
    s = s.strip_suffix("/api").unwrap_or(s);
    s = s.strip_suffix('/').unwrap_or(s);
    s.to_owned()
}

/// Checks a base URL as given (before normalising) the way [`Client::connect`](super::Client)
/// will: a URL it would refuse is refused here, before anything is sent.
pub fn check_api_url(url: &str, allow_insecure_http: bool) -> Result<(), ApiError> {
    checked_base_url(&normalise_api_url(url), allow_insecure_http).map(|_| ())
}

/// Parses a normalised base URL and refuses plain `http://` to a non-loopback host unless
/// `allow_insecure_http`.
pub(crate) fn checked_base_url(
    normalised: &str,
    allow_insecure_http: bool,
) -> Result<Url, ApiError> {
    let parsed = Url::parse(normalised);
    // Shown in errors: never with the user info a URL may carry (a password).
    let shown: String = match &parsed {
        Ok(u) if !u.username().is_empty() || u.password().is_some() => {
            let mut u = u.clone();
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        _ => normalised.to_owned(),
    };
    let shown: String = crate::display::safe(&shown).chars().take(200).collect();
    let invalid = |reason: &str| ApiError::InvalidUrl {
        url: shown.clone(),
        reason: reason.to_owned(),
    };
    let url = parsed.map_err(|e| invalid(&e.to_string()))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("a query or fragment is not accepted"));
    }
    match check_target(&url, allow_insecure_http) {
        Ok(()) => Ok(url),
        Err(UrlProblem::Insecure) => Err(ApiError::InsecureUrl { url: shown }),
        Err(problem) => Err(invalid(&problem.to_string())),
    }
}

/// What makes a URL unfit to send requests to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum UrlProblem {
    #[error("no host")]
    NoHost,
    #[error("credentials in the URL are not accepted")]
    Credentials,
    #[error("plain http:// is accepted only to a loopback host")]
    Insecure,
    #[error("unsupported scheme `{0}`")]
    Scheme(String),
}

/// Checks that `url` has a host and no user info, and is https (or plain http to a loopback
/// host, or anywhere with `allow_insecure_http`).
pub(crate) fn check_target(url: &Url, allow_insecure_http: bool) -> Result<(), UrlProblem> {
    if url.host().is_none() {
        return Err(UrlProblem::NoHost);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlProblem::Credentials);
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if allow_insecure_http || is_loopback(url) => Ok(()),
        "http" => Err(UrlProblem::Insecure),
        other => Err(UrlProblem::Scheme(other.to_owned())),
    }
}

/// Whether `url`'s host is a loopback address or exactly `localhost`.
fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        // Exactly `localhost`: a name under it (`evil.localhost`) goes to the resolver.
        Err(_) => host == "localhost",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn api_url_is_normalised() {
        assert_eq!(
            normalise_api_url("https://x.example/api/"),
            "https://x.example"
        );
        assert_eq!(
            normalise_api_url("https://x.example/api"),
            "https://x.example"
        );
        assert_eq!(normalise_api_url("https://x.example/"), "https://x.example");
        assert_eq!(
            normalise_api_url(" https://x.example "),
            "https://x.example"
        );
        assert_eq!(
            normalise_api_url("https://x.example/sub/api"),
            "https://x.example/sub"
        );
        assert_eq!(
            normalise_api_url("https://x.example/apix"),
            "https://x.example/apix"
        );
    }

    #[test]
    fn plain_http_only_for_loopback() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://localhost:1",
            "http://[::1]:9",
            "https://a.b",
        ] {
            assert!(checked_base_url(ok, false).is_ok(), "{ok}");
        }
        let err = checked_base_url("http://infisical.internal", false).unwrap_err();
        assert_eq!(err.kind(), super::super::ErrorKind::InsecureUrl);
        assert!(checked_base_url("http://infisical.internal", true).is_ok());
        assert!(checked_base_url("ftp://a.b", true).is_err());
        let err = checked_base_url("https://user:s3cret@a.b", true).unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
        // Only a literal loopback address or exactly `localhost` is loopback.
        let err = checked_base_url("http://evil.localhost", false).unwrap_err();
        assert_eq!(err.kind(), super::super::ErrorKind::InsecureUrl);
    }

    #[test]
    fn bad_ca_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let err = load_ca_certs(&missing).unwrap_err().to_string();
        assert!(
            err.contains("missing.pem") && err.contains("cannot read"),
            "{err}"
        );
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate at all\n").unwrap();
        let err = load_ca_certs(&junk).unwrap_err().to_string();
        assert!(
            err.contains("junk.pem") && err.contains("no PEM certificate"),
            "{err}"
        );
        let broken = dir.path().join("broken.pem");
        std::fs::write(
            &broken,
            "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        assert!(load_ca_certs(&broken).is_err());
    }

    /// Whole and fractional counts parse per second or per minute, with the right interval.
    #[test]
    fn rates_parse() {
        let rate = |s: &str| s.parse::<Rate>().unwrap();
        assert_eq!(rate("50"), Rate::per_second(50.0).unwrap());
        assert_eq!(rate("50/s"), Rate::per_second(50.0).unwrap());
        assert_eq!(rate(" 200/min"), Rate::per_minute(200.0).unwrap());
        assert_eq!(rate("200/min").interval(), Duration::from_millis(300));
        assert_eq!(rate("1.6"), Rate::per_second(1.6).unwrap());
        assert_eq!(rate("1.6").interval(), Duration::from_millis(625));
        assert_eq!(rate("1.6/s").interval(), Duration::from_millis(625));
        assert_eq!(rate("0.5").interval(), Duration::from_secs(2));
        assert_eq!(rate("30/min").interval(), Duration::from_secs(2));
        assert_eq!(rate("0.5/min").interval(), Duration::from_secs(120));
        assert_eq!(rate("3/s").interval(), Duration::from_nanos(333_333_333));
        assert_eq!(rate("1.6/s").per_second_f64(), 1.6);
        assert_eq!(rate("30/min").per_second_f64(), 0.5);
        assert_eq!(rate(".5/S").interval(), Duration::from_secs(2));
    }

    /// Zero, negatives, NaN, infinities, exponents, empty input, unknown units and rates
    /// beyond the interval bounds are errors that say what is expected.
    #[test]
    fn bad_rates_are_errors() {
        for bad in [
            "0",
            "0.0",
            "0/min",
            "00",
            "-1",
            "-0.5",
            "+1",
            "NaN",
            "nan",
            "inf",
            "infinity",
            "-inf",
            "1e3",
            "1E-2",
            "",
            " ",
            "/s",
            "abc",
            "5/h",
            "1.5/",
            "1..5",
            "1.2.3",
            ".",
            "1,5",
            "0x10",
            "1.6/s/s",
            "0.00001",
            "0.0001/min",
            "2000000",
        ] {
            let err = bad.parse::<Rate>().expect_err(bad);
            assert!(
                err.to_string().contains("expected N, N/s or N/min"),
                "{err}"
            );
        }
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e-9] {
            assert_eq!(Rate::per_second(bad), None, "{bad}");
        }
        let err = "0".parse::<Rate>().unwrap_err().to_string();
        assert!(err.contains("above 0"), "{err}");
    }

    /// Display gives back the count as written (shortest form) with its unit.
    #[test]
    fn rates_display_readably() {
        for (input, shown) in [
            ("1.6", "1.6/s"),
            ("1.6/s", "1.6/s"),
            ("200/min", "200/min"),
            ("0.5/min", "0.5/min"),
            ("50", "50/s"),
            ("1.50/sec", "1.5/s"),
            ("007", "7/s"),
        ] {
            let rate: Rate = input.parse().unwrap();
            assert_eq!(rate.to_string(), shown);
            assert_eq!(shown.parse::<Rate>().unwrap(), rate, "{shown} round-trips");
        }
        assert_eq!(Rate::per_minute(90.0).unwrap().to_string(), "90/min");
    }

    #[test]
    fn cloud_hosts_get_default_rates() {
        let (r, w) = ConnectOptions::default_rates_for("https://app.infisical.com/api");
        assert_eq!(r, Rate::per_minute(200.0));
        assert_eq!(w, Rate::per_minute(90.0));
        assert_eq!(
            ConnectOptions::default_rates_for("https://eu.infisical.com"),
            (Rate::per_minute(200.0), Rate::per_minute(90.0))
        );
        assert_eq!(
            ConnectOptions::default_rates_for("https://infisical.example.com"),
            (None, None)
        );
        assert_eq!(
            ConnectOptions::default_rates_for("https://notinfisical.com"),
            (None, None)
        );
    }

    #[test]
    fn credentials_from_lookup() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        match Credentials::from_lookup(env(&[("INFISICAL_TOKEN", "tok")])).unwrap() {
            Credentials::Token(t) => assert_eq!(t.expose_secret(), "tok"),
            other => panic!("unexpected {other:?}"),
        }
        let ua = Credentials::from_lookup(env(&[
            ("INFISICAL_UNIVERSAL_AUTH_CLIENT_ID", "id"),
            ("INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET", "s3cret"),
        ]))
        .unwrap();
        assert!(
            matches!(ua, Credentials::UniversalAuth { ref client_id, .. } if client_id == "id")
        );
        assert!(!format!("{ua:?}").contains("s3cret"));
        let err = Credentials::from_lookup(env(&[("INFISICAL_UNIVERSAL_AUTH_CLIENT_ID", "id")]))
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET")
        );
        let err = Credentials::from_lookup(env(&[("INFISICAL_TOKEN", " ")])).unwrap_err();
        assert_eq!(err, CredentialsError::Missing);
        assert!(err.to_string().contains("INFISICAL_TOKEN"));
    }
}
