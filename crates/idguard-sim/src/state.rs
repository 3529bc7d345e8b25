//! The simulator's shared state: the organization (identities with their stored configs and
//! last logins, kept in a map by id plus name-sorted id lists for paging), its audit log,
//! tokens and lockouts, faults, rate limits and the request log; and [`Sim`], the cheap handle
//! tests use to look and poke.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};

use super::audit_log::{AuditEvent, AuditStore, EventBody};
use super::clock::Clock;
use super::generator::{self, Planted};
use super::limits::Limiter;
use super::records::{IdentityRec, OrgRec};
use super::token::AuthState;
use super::{Faults, IdentitySpec, LoggedRequest, RateLimit, SimConfig, SpiffeApi, usage};
use crate::{AuditLogs, AuthMethod, LastLogin, UsageEvent};

/// Which identities a listing covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScopeFilter {
    All,
    Organization,
    Project,
}

/// Everything about the org.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) org: OrgRec,
    pub(crate) identities: HashMap<String, IdentityRec>,
    pub(crate) planted: Vec<Planted>,
    pub(crate) login_identity: String,
    /// Auth methods outside [`AuthMethod::KNOWN`] that this server serves routes for: every
    /// one a hand-built identity was given (a newer server's method).
    pub(crate) extra_methods: BTreeSet<String>,
    sorted_all: Vec<String>,
    sorted_org: Vec<String>,
    sorted_project: Vec<String>,
}

impl State {
    pub(crate) fn new(
        org: OrgRec,
        list: Vec<IdentityRec>,
        planted: Vec<Planted>,
        login_identity: String,
    ) -> State {
        let mut state = State {
            org,
            identities: list.into_iter().map(|i| (i.id.clone(), i)).collect(),
            planted,
            login_identity,
            extra_methods: BTreeSet::new(),
            sorted_all: Vec::new(),
            sorted_org: Vec::new(),
            sorted_project: Vec::new(),
        };
        state.resort();
        state
    }

    /// Rebuilds the name-sorted id lists (after identities were added or removed).
    pub(crate) fn resort(&mut self) {
        let mut all: Vec<&IdentityRec> = self.identities.values().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
        self.sorted_all = all.iter().map(|i| i.id.clone()).collect();
        self.sorted_org = all
            .iter()
            .filter(|i| i.project.is_none())
            .map(|i| i.id.clone())
            .collect();
        self.sorted_project = all
            .iter()
            .filter(|i| i.project.is_some())
            .map(|i| i.id.clone())
            .collect();
    }

    /// Ids in name order.
    pub(crate) fn sorted(&self, scope: ScopeFilter) -> &[String] {
        match scope {
            ScopeFilter::All => &self.sorted_all,
            ScopeFilter::Organization => &self.sorted_org,
            ScopeFilter::Project => &self.sorted_project,
        }
    }
}

/// What never changes after start.
pub(crate) struct Settings {
    pub(crate) latency: Duration,
    /// Wakes delayed responses on time (only with a latency).
    pub(crate) delay: Option<super::delay::DelayTimer>,
    pub(crate) token_ttl: Duration,
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    pub(crate) legacy: bool,
    pub(crate) ip_allowlisting: bool,
    pub(crate) spiffe_api: SpiffeApi,
    pub(crate) started: Instant,
    /// The wall clock (see [`SimConfig::now`]).
    pub(crate) clock: Clock,
    /// The id of the demo credential's client secret (`clientSecretId` of its login events).
    pub(crate) client_secret_id: uuid::Uuid,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("latency", &self.latency)
            .field("token_ttl", &self.token_ttl)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("legacy", &self.legacy)
            .field("ip_allowlisting", &self.ip_allowlisting)
            .field("spiffe_api", &self.spiffe_api)
            .field("clock", &self.clock)
            .finish()
    }
}

/// All shared state behind [`Sim`].
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) settings: Settings,
    pub(crate) state: RwLock<State>,
    pub(crate) auth: Mutex<AuthState>,
    pub(crate) faults: RwLock<Faults>,
    /// The fault dice, seeded from [`Faults::seed`] (reseeded by [`Sim::set_faults`]).
    pub(crate) dice: Mutex<ChaCha8Rng>,
    pub(crate) limiter: Mutex<Limiter>,
    pub(crate) log: Mutex<Vec<LoggedRequest>>,
    pub(crate) req_counter: AtomicU64,
    pub(crate) listing: Mutex<ListingTrack>,
    /// Whether trusted IPs are enforced (see [`SimConfig::enforce_trusted_ips`]).
    pub(crate) enforce_trusted_ips: AtomicBool,
    /// The org's audit log.
    pub(crate) audit: Mutex<AuditStore>,
    /// The audit-log plan and permission (see [`SimConfig::audit_logs`]).
    pub(crate) audit_mode: Mutex<AuditLogs>,
    /// The raw query string of every audit-log listing request, in arrival order.
    pub(crate) audit_queries: Mutex<Vec<String>>,
}

/// What the listings served so far: every identity a listing page held (with its methods at
/// that moment), the number of pages, and whether the churn fault has been applied.
#[derive(Debug, Default)]
pub(crate) struct ListingTrack {
    pub(crate) listed: BTreeMap<String, Vec<AuthMethod>>,
    pub(crate) pages: u64,
    pub(crate) churned: bool,
}

impl Shared {
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn auth(&self) -> MutexGuard<'_, AuthState> {
        self.auth.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn faults(&self) -> Faults {
        self.faults
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn dice(&self) -> MutexGuard<'_, ChaCha8Rng> {
        self.dice.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn limiter(&self) -> MutexGuard<'_, Limiter> {
        self.limiter.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn log(&self) -> MutexGuard<'_, Vec<LoggedRequest>> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn listing(&self) -> MutexGuard<'_, ListingTrack> {
        self.listing.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn audit(&self) -> MutexGuard<'_, AuditStore> {
        self.audit.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn audit_mode(&self) -> AuditLogs {
        *self
            .audit_mode
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps the raw query string of an audit-log listing request.
    pub(crate) fn note_audit_query(&self, query: &str) {
        self.audit_queries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(query.to_owned());
    }

    /// Stores an event, unless the org has no audit-log plan. Lock order: the state lock may
    /// be held when this takes the audit lock; nothing takes the state lock under the audit
    /// lock.
    pub(crate) fn record(&self, event: AuditEvent) {
        if self.audit_mode() != AuditLogs::Disabled {
            self.audit().insert(event);
        }
    }

    /// What GET shows of a stored config.
    pub(crate) fn view(&self, method: &AuthMethod, cfg: &Map<String, Value>) -> Map<String, Value> {
        match method {
            AuthMethod::Spiffe => super::spiffe::view(cfg, self.settings.spiffe_api),
            _ => cfg.clone(),
        }
    }

    pub(crate) fn enforces_trusted_ips(&self) -> bool {
        self.enforce_trusted_ips.load(Ordering::Relaxed)
    }

    /// Records the identities of one listing page (items holding `identity.id`).
    pub(crate) fn note_listed(&self, state: &State, items: &[Value]) {
        let mut track = self.listing();
        for item in items {
            let Some(id) = item
                .get("identity")
                .and_then(|i| i.get("id"))
                .and_then(Value::as_str)
            else {
                continue;
            };
            if let Some(rec) = state.identities.get(id) {
                track
                    .listed
                    .insert(id.to_owned(), rec.methods().cloned().collect());
            }
        }
    }

    /// Runs the listing faults after a listing page was answered: deletes the listed
    /// identities of [`Faults::delete_after_listing`] and applies [`Faults::listing_churn`]
    /// once its page has come.
    pub(crate) fn after_listing_page(&self) {
        let faults = self.faults();
        let (pages, doomed, churn) = {
            let mut track = self.listing();
            track.pages += 1;
            let doomed: Vec<String> = faults
                .delete_after_listing
                .iter()
                .filter(|id| track.listed.contains_key(*id))
                .cloned()
                .collect();
            let churn = match &faults.listing_churn {
                Some(c) if !track.churned && track.pages >= c.after_page => {
                    track.churned = true;
                    Some(c.clone())
                }
                _ => None,
            };
            (track.pages, doomed, churn)
        };
        if doomed.is_empty() && churn.is_none() {
            return;
        }
        let mut state = self.write();
        for id in &doomed {
            state.identities.remove(id);
        }
        if let Some(churn) = churn {
            let victims: Vec<String> = state
                .sorted(ScopeFilter::All)
                .iter()
                .filter(|id| **id != state.login_identity)
                .take(churn.remove)
                .cloned()
                .collect();
            for id in &victims {
                state.identities.remove(id);
            }
            let org_id = state.org.id.clone();
            for n in 0..churn.add {
                let spec = IdentitySpec {
                    name: format!("0000-churn-{pages:02}-{n:03}"),
                    project_id: None,
                    methods: vec![(AuthMethod::Universal, None)],
                };
                let rec = generator::hand_built(&spec, &org_id);
                state.identities.insert(rec.id.clone(), rec);
            }
        }
        state.resort();
    }
}

/// A cheap, cloneable handle on a simulator's state, for tests to look and poke.
#[derive(Debug, Clone)]
pub struct Sim {
    pub(crate) shared: Arc<Shared>,
}

impl Sim {
    /// Builds the state (generating the org and its usage) without serving it.
    pub fn new(config: &SimConfig) -> Sim {
        let mut generated = generator::generate(config);
        let clock = Clock::new(config.now);
        let mut events = usage::generate(
            config.seed,
            clock.start(),
            &mut generated.identities,
            &generated.planted,
            &generated.projects,
            &generated.login_identity,
        );
        if config.legacy {
            // The October-2024 server stored no login events (seen on a real one).
            events.retain(|e| !matches!(e.body, EventBody::Login(_)));
        }
        // Its own stream: the generator's first uuid is the org id.
        let client_secret_id = usage::random_uuid(&mut ChaCha8Rng::seed_from_u64(
            config.seed.rotate_left(17) ^ 0x5ec7,
        ));
        let state = State::new(
            generated.org,
            generated.identities,
            generated.planted,
            generated.login_identity,
        );
        Sim {
            shared: Arc::new(Shared {
                settings: Settings {
                    latency: config.latency,
                    delay: (!config.latency.is_zero()).then(super::delay::DelayTimer::start),
                    token_ttl: config.token_ttl,
                    client_id: config.client_id.clone(),
                    client_secret: config.client_secret.clone(),
                    legacy: config.legacy,
                    ip_allowlisting: config.ip_allowlisting,
                    spiffe_api: config.spiffe_api,
                    started: Instant::now(),
                    clock,
                    client_secret_id,
                },
                state: RwLock::new(state),
                auth: Mutex::new(AuthState::default()),
                faults: RwLock::new(config.faults.clone()),
                dice: Mutex::new(ChaCha8Rng::seed_from_u64(config.faults.seed)),
                limiter: Mutex::new(Limiter::new(config.rate_limit.clone())),
                log: Mutex::new(Vec::new()),
                req_counter: AtomicU64::new(0),
                listing: Mutex::new(ListingTrack::default()),
                enforce_trusted_ips: AtomicBool::new(config.enforce_trusted_ips),
                audit: Mutex::new(AuditStore::new(events)),
                audit_mode: Mutex::new(config.audit_logs),
                audit_queries: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The organization id.
    pub fn org_id(&self) -> String {
        self.shared.read().org.id.clone()
    }

    /// The id of the identity the configured client id logs in as.
    pub fn login_identity_id(&self) -> String {
        self.shared.read().login_identity.clone()
    }

    /// The generator's ground truth: every planted violation.
    pub fn planted(&self) -> Vec<Planted> {
        self.shared.read().planted.clone()
    }

    /// Every identity a listing page has held so far, with its configured methods at the time
    /// it was listed (identities deleted since included).
    pub fn listed_identities(&self) -> BTreeMap<String, Vec<AuthMethod>> {
        self.shared.listing().listed.clone()
    }

    /// Every identity id, in name order.
    pub fn identity_ids(&self) -> Vec<String> {
        self.shared.read().sorted(ScopeFilter::All).to_vec()
    }

    /// The name of an identity.
    pub fn identity_name(&self, identity_id: &str) -> Option<String> {
        self.shared
            .read()
            .identities
            .get(identity_id)
            .map(|i| i.name.clone())
    }

    /// The configured methods of an identity, in `authMethods` order.
    pub fn auth_methods(&self, identity_id: &str) -> Vec<AuthMethod> {
        self.shared
            .read()
            .identities
            .get(identity_id)
            .map(|i| i.methods().cloned().collect())
            .unwrap_or_default()
    }

    /// The project id of a project-scoped identity.
    pub fn project_id(&self, identity_id: &str) -> Option<String> {
        self.shared
            .read()
            .identities
            .get(identity_id)
            .and_then(|i| i.project.as_ref().map(|p| p.id.clone()))
    }

    /// The stored config in its GET form (the object inside the wrapper key).
    pub fn config_json(&self, identity_id: &str, method: &AuthMethod) -> Option<Value> {
        self.shared
            .read()
            .identities
            .get(identity_id)
            .and_then(|i| i.config(method))
            .map(|c| Value::Object(self.shared.view(method, c)))
    }

    /// Overwrites one stored field (simulates drift made by someone else). No-op when the
    /// identity or method does not exist. spiffe-auth configs are stored as Infisical's
    /// database row, whose trust-bundle columns [`SpiffeApi::TrustBundleDistribution`] shows
    /// nested: set those columns (`bundleEndpointUrl`, ...), not `trustBundleDistribution`.
    pub fn set_config_field(
        &self,
        identity_id: &str,
        method: &AuthMethod,
        field: &str,
        value: Value,
    ) {
        let mut state = self.shared.write();
        if let Some(cfg) = state
            .identities
            .get_mut(identity_id)
            .and_then(|i| i.config_mut(method))
        {
            cfg.insert(field.to_owned(), value);
        }
    }

    /// Removes an identity.
    pub fn delete_identity(&self, identity_id: &str) {
        let mut state = self.shared.write();
        if state.identities.remove(identity_id).is_some() {
            state.resort();
        }
    }

    /// Adds an identity built by hand; returns its id. A method outside
    /// [`AuthMethod::KNOWN`] (`AuthMethod::Unknown("quantum-auth")`) makes the server serve
    /// GET/PATCH `/api/v1/auth/quantum-auth/identities/{id}` from then on, with the config under
    /// the key `identityQuantumAuth` and the common fields validated on PATCH.
    pub fn add_identity(&self, spec: IdentitySpec) -> String {
        let mut state = self.shared.write();
        for (method, _) in &spec.methods {
            if let AuthMethod::Unknown(name) = method {
                state.extra_methods.insert(name.clone());
            }
        }
        let rec = generator::hand_built(&spec, &state.org.id);
        let id = rec.id.clone();
        state.identities.insert(id.clone(), rec);
        state.resort();
        id
    }

    /// Every issued token expires now (the next use gets 403 `TokenError`).
    pub fn expire_all_tokens(&self) {
        let now = Instant::now();
        for rec in self.shared.auth().tokens.values_mut() {
            rec.expires_at = now;
        }
    }

    /// Every issued token is revoked.
    pub fn revoke_all_tokens(&self) {
        for rec in self.shared.auth().tokens.values_mut() {
            rec.revoked = true;
        }
    }

    /// Replaces the fault settings.
    pub fn set_faults(&self, faults: Faults) {
        *self.shared.dice() = ChaCha8Rng::seed_from_u64(faults.seed);
        *self
            .shared
            .faults
            .write()
            .unwrap_or_else(PoisonError::into_inner) = faults;
    }

    /// Switches trusted-IP enforcement on or off (see [`SimConfig::enforce_trusted_ips`]);
    /// tokens already issued are checked against the stored trusted IPs from the next request.
    pub fn set_enforce_trusted_ips(&self, on: bool) {
        self.shared.enforce_trusted_ips.store(on, Ordering::Relaxed);
    }

    /// Replaces the rate limits (windows restart).
    pub fn set_rate_limit(&self, rl: Option<RateLimit>) {
        *self.shared.limiter() = Limiter::new(rl);
    }

    /// Every request so far, in arrival order of completion.
    pub fn request_log(&self) -> Vec<LoggedRequest> {
        self.shared.log().clone()
    }

    /// Empties the request log.
    pub fn clear_request_log(&self) {
        self.shared.log().clear();
    }

    /// The simulator's current time (its start is [`SimConfig::now`]).
    pub fn now(&self) -> jiff::Timestamp {
        self.shared.settings.clock.now()
    }

    /// An identity's last login (`None`: never, or no such identity).
    pub fn last_login(&self, identity_id: &str) -> Option<LastLogin> {
        self.shared
            .read()
            .identities
            .get(identity_id)
            .and_then(|i| i.last_login.clone())
    }

    /// Sets an identity's last login, or clears it with `None` (never logged in). No-op when
    /// the identity does not exist.
    pub fn set_last_login(&self, identity_id: &str, last: Option<LastLogin>) {
        if let Some(rec) = self.shared.write().identities.get_mut(identity_id) {
            rec.last_login = last;
        }
    }

    /// Sets when an identity joined the organization (its membership's `createdAt`). No-op
    /// when the identity does not exist.
    pub fn set_created_at(&self, identity_id: &str, at: jiff::Timestamp) {
        if let Some(rec) = self.shared.write().identities.get_mut(identity_id) {
            rec.created_at = at.to_string();
        }
    }

    /// Adds an event to the audit log (metadata as [`UsageEvent`] says). Returns false, and
    /// adds nothing, when the identity does not exist or the org has no audit-log plan.
    pub fn add_usage_event(&self, event: UsageEvent) -> bool {
        let built = {
            let state = self.shared.read();
            let Some(rec) = state.identities.get(&event.identity_id) else {
                return false;
            };
            let id = Arc::from(rec.id.as_str());
            let name = Arc::from(rec.name.as_str());
            let mut e = usage::event_for(
                &mut rand::rng(),
                rec,
                &id,
                &name,
                &event.event_type,
                event.actor,
                event.ip,
                event.at,
            );
            e.project = rec.project.as_ref().map(usage::project);
            e
        };
        if self.shared.audit_mode() == AuditLogs::Disabled {
            return false;
        }
        self.shared.audit().insert(built);
        true
    }

    /// Number of events in the audit log (whatever the audit-log mode).
    pub fn audit_event_count(&self) -> usize {
        self.shared.audit().len()
    }

    /// Switches the audit-log plan and permission (see [`SimConfig::audit_logs`]).
    pub fn set_audit_logs(&self, mode: AuditLogs) {
        *self
            .shared
            .audit_mode
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = mode;
    }

    /// The raw (percent-encoded) query string of every `GET /api/v1/organization/audit-logs`
    /// request so far, in arrival order, whatever its answer.
    pub fn audit_log_queries(&self) -> Vec<String> {
        self.shared
            .audit_queries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A generated org of 20,000 identities is held with every identity in the sorted listing.
    #[test]
    fn a_large_generated_org_is_listed_whole() {
        let g = generator::generate(&SimConfig {
            identities: 20_000,
            ..SimConfig::default()
        });
        assert_eq!(g.identities.len(), 20_000);
        let state = State::new(g.org, g.identities, g.planted, g.login_identity);
        assert_eq!(state.sorted(ScopeFilter::All).len(), 20_000);
    }
}
