//! idguard-sim: a simulated Infisical server, an axum HTTP server on 127.0.0.1 over shared
//! in-memory state, used by idguard's tests, its benchmark, `idguard demo` and `idguard sim`.
//!
//! It behaves like the current Infisical API as idguard's `docs/infisical-api.md` describes it
//! (login, token expiry, both identity listings, GET/PATCH of all 13 auth methods with
//! Infisical's validation, omission traps and error shapes, rate limiting), optionally like an
//! October-2024 server (`legacy`), can inject faults (including 403s, deletions between listing
//! and GET and an org that changes while it is listed), and serves HTTPS when given a
//! certificate. It can also enforce trusted IPs, serve an auth method outside Infisical's 13,
//! and speak either version of spiffe-auth's API. It never is more forgiving than Infisical.
//! Every request is recorded so tests can assert what was sent, how fast and in what order.
//!
//! It also changes the org through Infisical's routes (attaching and revoking auth methods,
//! creating, renaming and deleting identities) and serves usage evidence: each identity's last
//! login in the listings and the org's audit log (`GET /api/v1/organization/audit-logs`),
//! generated for the sample org relative to [`SimConfig::now`] and extended by what clients do
//! (logins, and every change made over HTTP: `add-`, `update-` and `revoke-identity-<method>`,
//! `create-`, `update-` and `delete-identity`, each with `identityId` in its metadata; the table
//! is in `routes.rs`). The test hooks of [`Sim`] that change the org (`set_config_field`,
//! `add_identity`, `delete_identity`, ...) write no event, so tests can show what a full sweep
//! catches that the change feed cannot. The audit log can be switched off (no audit-log plan)
//! or refused (no `audit-logs` read), see [`AuditLogs`].
//!
//! The crate does not depend on idguard: it holds its own model of Infisical ([`AuthMethod`],
//! the trusted-IP entry in `stored_ip.rs`), so a mistake in the client's model is not mirrored
//! by the server the client is tested against, and the compiler keeps the simulator out of
//! idguard's audit, evaluation and remediation.
//!
//! Module map: this file holds the public API ([`start`], [`SimConfig`], [`SimServer`],
//! [`Faults`], ...); [`Sim`] the shared state and its test hooks (`state.rs`, records in
//! `records.rs`, its clock in `clock.rs`); `routes.rs` the HTTP routes (those that change
//! identities in `routes/changes.rs`, an attach's row in `attach.rs`), `audit_query.rs` the
//! audit-log query string, `audit_log.rs` the audit log itself, `usage.rs` the generated
//! usage, `admin.rs` the `/__sim/*` statistics, `http.rs` the listener (TLS, dropped
//! connections), `delay.rs` the precise latency, `limits.rs` the rate limiter, `token.rs` the access tokens, `patch.rs`, `spiffe.rs` and
//! `zod.rs` the PATCH validation, `stored_ip.rs` a trusted-IP entry's request and stored
//! forms, `trusted_ips.rs` the caller's IP check, `generator.rs` the generated org, and
//! `auth_method.rs` Infisical's list of auth methods.

mod admin;
mod attach;
mod audit_log;
mod audit_query;
mod auth_method;
mod clock;
mod delay;
mod generator;
mod http;
mod limits;
mod patch;
mod records;
mod request_kind;
mod routes;
mod spiffe;
mod state;
mod stored_ip;
mod token;
mod trusted_ips;
mod usage;
mod zod;

use std::collections::HashSet;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde_json::Value;

pub use auth_method::AuthMethod;
pub use generator::{LOGIN_IDENTITY_NAME, Planted, PlantedKind, baseline_config};
pub use request_kind::RequestKind;
pub use state::Sim;

/// The client id of the one universal-auth credential the simulator accepts by default.
pub const DEMO_CLIENT_ID: &str = "6f1a9c2e-0d3b-4c5a-9e7f-1a2b3c4d5e6f";
/// The client secret of the demo credential (public: it only opens the local simulator).
pub const DEMO_CLIENT_SECRET: &str = "idguard-demo-secret-0123456789abcdef";

/// How the simulator is built and how it behaves.
#[derive(Clone)]
pub struct SimConfig {
    /// Seed of the organization generator.
    pub seed: u64,
    /// Number of identities in the generated org (the logged-in identity included).
    pub identities: usize,
    /// Port on 127.0.0.1; 0 picks any free port.
    pub port: u16,
    /// Delay added to every response.
    pub latency: Duration,
    /// Fixed-window rate limits; `None` = unlimited.
    pub rate_limit: Option<RateLimit>,
    /// Fault injection.
    pub faults: Faults,
    /// Lifetime of the access tokens the simulator issues.
    pub token_ttl: Duration,
    /// The client id that can log in with universal auth.
    pub client_id: String,
    /// The matching client secret.
    pub client_secret: String,
    /// Behave like the October-2024 server ("Older servers" in idguard's
    /// `docs/infisical-api.md`).
    pub legacy: bool,
    /// The plan feature `ipAllowlisting`; false: trusted IPs other than `0.0.0.0/0`/`::/0`
    /// are refused with 400 "plan restriction".
    pub ip_allowlisting: bool,
    /// Serve HTTPS with this `(certificate chain PEM, private key PEM)`; `None` = plain HTTP.
    pub tls: Option<(String, String)>,
    /// Enforce trusted IPs like Infisical: a universal-auth login from outside the login
    /// identity's `clientSecretTrustedIps`, and any request whose token's auth config has
    /// `accessTokenTrustedIps` not holding the caller, get 403 `ForbiddenError`. The caller is
    /// the TCP peer (127.0.0.1), which the generated login identity's compliant lists (inside
    /// 10.0.0.0/8 and fd00::/8) do not hold: widen them first with [`Sim::set_config_field`].
    /// Off by default; [`Sim::set_enforce_trusted_ips`] switches it.
    pub enforce_trusted_ips: bool,
    /// Which version of Infisical's spiffe-auth API to speak.
    pub spiffe_api: SpiffeApi,
    /// The simulator's clock at start; `None` = the real clock. The generated usage (last
    /// logins, audit events, membership `createdAt`) is placed relative to it, so a fixed value
    /// gives the same org on every run. The clock runs on from there.
    pub now: Option<jiff::Timestamp>,
    /// Whether the org has audit logs and the logged-in identity may read them.
    pub audit_logs: AuditLogs,
}

/// The org's audit-log plan and the logged-in identity's right to read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuditLogs {
    /// Events are recorded and `GET /api/v1/organization/audit-logs` serves them.
    #[default]
    Enabled,
    /// No audit-log plan (a paid feature): nothing is recorded and the listing answers 200
    /// `{"auditLogs": []}`, like "no activity". Events recorded before stay stored and show
    /// again when switched back to [`AuditLogs::Enabled`].
    Disabled,
    /// Events are recorded, but the logged-in identity's role lacks `audit-logs` read: the
    /// listing answers 403 `PermissionDenied`.
    Forbidden,
}

/// An identity's last login, as the listings show it (`lastLoginTime`, `lastLoginAuthMethod`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastLogin {
    /// When.
    pub at: jiff::Timestamp,
    /// Through which method.
    pub method: AuthMethod,
}

/// Whom an audit event added with [`Sim::add_usage_event`] names as its actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageActor {
    /// The identity itself (`actor.type` `identity`, metadata `{name, identityId}`): requests
    /// made with its token, and universal-auth, JWT and AliCloud logins on newer servers.
    Identity,
    /// `actor.type` `unknownUser` with empty metadata: the other methods' logins on newer
    /// servers, which name the identity only in `event.metadata.identityId`.
    UnknownUser,
}

/// One usage event for [`Sim::add_usage_event`]. Its metadata follows the event type:
/// `login-identity-<method>` gets a login's (`identityId`, `identity<Method>AuthId`,
/// `identityAccessTokenId`, and `clientSecretId` for universal auth), `get-secrets` a read of
/// the identity's project (`environment`, `secretPath`, `numberOfSecrets`), anything else
/// `{identityId}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageEvent {
    /// The identity the event is about.
    pub identity_id: String,
    /// The event type (`get-secrets`, `login-identity-aws-auth`, ...).
    pub event_type: String,
    /// The actor.
    pub actor: UsageActor,
    /// The caller's address (`ipAddress`); `None` = not recorded (null).
    pub ip: Option<IpAddr>,
    /// When (`createdAt`).
    pub at: jiff::Timestamp,
}

/// The two versions of Infisical's spiffe-auth API (both over the same stored row; see
/// `spiffe.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SpiffeApi {
    /// GET returns the trust-bundle source flat (`configurationType` `static`|`remote`,
    /// `caBundleJwks`, `bundleEndpointUrl`, `bundleEndpointProfile` `https_web`|`https_spiffe`,
    /// `bundleEndpointCaCert`, `bundleRefreshHintSeconds`, `cachedBundleLastRefreshedAt`); PATCH
    /// requires `configurationType` (422 without it) and resets the trust-bundle fields it
    /// omits. The stricter of the two, so the default: the simulator is never more forgiving
    /// than Infisical.
    #[default]
    Flat,
    /// The newer shape: GET nests the source in `trustBundleDistribution`; PATCH keeps every
    /// field it omits.
    TrustBundleDistribution,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 42,
            identities: 50,
            port: 0,
            latency: Duration::ZERO,
            rate_limit: None,
            faults: Faults::default(),
            token_ttl: Duration::from_secs(30 * 24 * 3600),
            client_id: DEMO_CLIENT_ID.to_owned(),
            client_secret: DEMO_CLIENT_SECRET.to_owned(),
            legacy: false,
            ip_allowlisting: true,
            tls: None,
            enforce_trusted_ips: false,
            spiffe_api: SpiffeApi::default(),
            now: None,
            audit_logs: AuditLogs::default(),
        }
    }
}

impl fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimConfig")
            .field("seed", &self.seed)
            .field("identities", &self.identities)
            .field("port", &self.port)
            .field("latency", &self.latency)
            .field("rate_limit", &self.rate_limit)
            .field("faults", &self.faults)
            .field("token_ttl", &self.token_ttl)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("legacy", &self.legacy)
            .field("ip_allowlisting", &self.ip_allowlisting)
            .field("tls", &self.tls.as_ref().map(|_| "<certificate and key>"))
            .field("enforce_trusted_ips", &self.enforce_trusted_ips)
            .field("spiffe_api", &self.spiffe_api)
            .field("now", &self.now)
            .field("audit_logs", &self.audit_logs)
            .finish()
    }
}

/// Fixed-window rate limits per client IP, like Infisical's (plus its global cap of 600
/// requests per window).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    /// Reads (config GETs, listings, identity lookups) per window.
    pub reads: u32,
    /// Writes (POST, PATCH, DELETE, login, renew) per window.
    pub writes: u32,
    /// Window length (Infisical: one minute).
    pub window: Duration,
    /// Whether 429 answers carry a `retry-after` header.
    pub retry_after_header: bool,
}

/// Fault injection settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// Probability (0..1) that a config read or write, an identity write or an audit-log read
    /// (and a listing page when `listing`) faults.
    pub rate: f64,
    /// The kinds to choose from, uniformly per faulted request.
    pub kinds: Vec<FaultKind>,
    /// Also fault listing pages.
    pub listing: bool,
    /// Identity ids whose config GETs always answer 500.
    pub always_fail: HashSet<String>,
    /// Delay of [`FaultKind::Slow`].
    pub slow: Duration,
    /// Identity ids whose config requests (GET, PATCH, attach, revoke) always answer 403
    /// `PermissionDenied`.
    pub forbidden: HashSet<String>,
    /// Identity ids deleted as soon as a listing page holding them has been served (so the
    /// client's GET that follows finds them gone).
    pub delete_after_listing: HashSet<String>,
    /// Identities added and removed while the org is being listed (`totalCount` changes).
    pub listing_churn: Option<ListingChurn>,
    /// Identity ids whose config PATCHes are applied but answered 200 with a body that is not
    /// JSON (logged as [`FaultKind::Malformed`]).
    pub patch_garbled_answers: HashSet<String>,
    /// Seed of the fault dice: the same seed rolls the same sequence of faults (requests served
    /// concurrently may still draw them in another order).
    pub seed: u64,
}

/// A change of the org in the middle of a listing, applied once, right after the listing page
/// number `after_page` (1-based, counted over every listing page served) has been answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListingChurn {
    /// After which listing page the org changes.
    pub after_page: u64,
    /// Identities to add, named so they sort before every generated one (each with one
    /// compliant universal-auth config): they land on pages already served.
    pub add: usize,
    /// Identities to remove: the first ones in name order (already listed), so every later
    /// identity shifts towards the start of the listing.
    pub remove: usize,
}

/// One kind of injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// 500, 502 or 503 with a JSON error body.
    ServerError,
    /// 502 with a `text/html` page (a proxy's error page).
    HtmlPage,
    /// 200 whose body is cut in the middle of the JSON.
    Truncated,
    /// The connection is closed without any HTTP response.
    DropConnection,
    /// The normal answer, after [`Faults::slow`].
    Slow,
    /// 200 with a `application/json` body that is not JSON at all.
    Malformed,
}

/// Whether a request counts against the read or the write limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestClass {
    /// GETs and listings.
    Read,
    /// POST, PATCH, DELETE (config and identity changes), login, renew.
    Write,
}

/// One request as the simulator saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedRequest {
    /// Time since the server started.
    pub at: Duration,
    /// HTTP method.
    pub method: String,
    /// Path without the query string.
    pub path: String,
    /// Status answered; 0 when the connection was dropped without a response.
    pub status: u16,
    /// Rate-limit class.
    pub class: RequestClass,
    /// What it was for.
    pub kind: RequestKind,
    /// The injected fault, if any.
    pub fault: Option<FaultKind>,
}

/// A running simulator.
pub struct SimServer {
    addr: SocketAddr,
    tls: bool,
    sim: Sim,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl fmt::Debug for SimServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimServer")
            .field("addr", &self.addr)
            .finish()
    }
}

/// Generates the org and starts serving on 127.0.0.1 (HTTPS when [`SimConfig::tls`] is set; a
/// bad certificate or key is an `InvalidInput` error).
pub async fn start(config: SimConfig) -> io::Result<SimServer> {
    let sim = Sim::new(&config);
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], config.port))).await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let app = routes::router(sim.clone());
    let listener = match &config.tls {
        Some((cert, key)) => http::SimListener::tls(listener, http::tls_acceptor(cert, key)?)?,
        None => http::SimListener::new(listener)?,
    };
    let task = tokio::spawn(async move {
        let service = app.into_make_service_with_connect_info::<http::ConnInfo>();
        let _ = axum::serve(listener, service)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
    });
    Ok(SimServer {
        addr,
        tls: config.tls.is_some(),
        sim,
        shutdown: Some(tx),
        task,
    })
}

impl SimServer {
    /// The base URL, `http://127.0.0.1:PORT` (`https://` when serving TLS).
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A handle on the shared state.
    pub fn handle(&self) -> Sim {
        self.sim.clone()
    }

    /// Stops serving (open connections get at most one second to finish).
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let abort = self.task.abort_handle();
        if tokio::time::timeout(Duration::from_secs(1), &mut self.task)
            .await
            .is_err()
        {
            abort.abort();
        }
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A hand-built identity for [`Sim::add_identity`].
#[derive(Debug, Clone, Default)]
pub struct IdentitySpec {
    /// The identity name.
    pub name: String,
    /// `Some(project id)` makes it project-scoped.
    pub project_id: Option<String>,
    /// Configured methods with their stored (GET-form) configs; `None` takes
    /// [`baseline_config`] (a compliant config). A spiffe-auth config is Infisical's database
    /// row, which is also the GET form of [`SpiffeApi::Flat`]. A method outside
    /// [`AuthMethod::KNOWN`] gets its routes (see [`Sim::add_identity`]).
    pub methods: Vec<(AuthMethod, Option<Value>)>,
}
