//! Sending one API request reliably: the concurrency semaphore, the per-class throttles
//! (rate limit and 429 gate), per-attempt timeouts, a size-capped body read, exponential
//! backoff with jitter (backon) on 5xx / timeouts / connection errors / truncated or invalid
//! JSON, the request deadline, the replay after a token refresh, and the request counters.
//! A write whose answer is not needed ([`Transport::execute_write`]) is never sent again after
//! a 2xx status arrived, whatever its body, even one cut short in transit.
//!
//! What a status means for a given endpoint (not configured, not found, ...) is decided by the
//! callers; this module only separates "retry", "wait" and "give up".

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use bytes::Bytes;
use futures::future::BoxFuture;
use http::{HeaderMap, HeaderValue, Method, StatusCode};

use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use url::Url;

use super::error::{ApiError, ErrorKind, ServerError, truncate};
use super::http::{HttpClient, HttpError, HttpResponse};
use super::redact::Redactor;
use super::throttle::{Class, Throttle, rate_limit_wait};
use crate::interrupt::Interrupt;

/// Body cap of a config GET/PATCH or login answer.
pub(crate) const SMALL_BODY_LIMIT: usize = 1 << 20;
/// Body cap of one listing page.
pub(crate) const PAGE_BODY_LIMIT: usize = 64 << 20;
/// Token refreshes one request may trigger (after 403 `TokenError`) before giving up.
const MAX_REFRESHES_PER_REQUEST: u32 = 3;
/// Consecutive 429s one request accepts when it has no deadline.
const MAX_RATE_LIMITED_WAITS: u32 = 100;

/// Request counters, reported in `run.api`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApiStats {
    /// HTTP attempts sent (retries and replays included).
    pub requests: u64,
    /// Attempts that were retries after a retryable failure.
    pub retries: u64,
    /// 429 answers received.
    pub rate_limited: u64,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    retries: AtomicU64,
    rate_limited: AtomicU64,
    /// Attempts in a row, across all requests, that got no answer before their timeout.
    silent_in_a_row: AtomicU64,
}

/// Attempts in a row without any answer (each timing out) after which the server is taken to
/// be down: every request still to send fails at once instead of waiting out its own
/// timeouts and retries (the circuit breaker).
const SILENT_ATTEMPTS_TO_GIVE_UP: u64 = 24;

/// What the sending loop needs from whoever holds the access token (the session): the bearer
/// to send, word that it worked, and a fresh token when it expires. Defined here and
/// implemented by the session, so that the transport never depends on the session (the
/// session sends its logins through the transport).
pub(crate) trait TokenHolder: Sync {
    /// The current token's generation and `Authorization` header value.
    fn bearer(&self) -> (u64, Option<HeaderValue>);
    /// A request sent with the token of `generation` succeeded.
    fn worked(&self, generation: u64);
    /// Renews the token first if it is about to expire.
    fn renew_if_due<'a>(&'a self, transport: &'a Transport) -> BoxFuture<'a, ()>;
    /// The server refused the token of `generation` (`TokenError`): obtain a new one.
    fn refresh<'a>(
        &'a self,
        transport: &'a Transport,
        generation: u64,
    ) -> BoxFuture<'a, Result<(), ApiError>>;
}

/// One request to send.
pub(crate) struct Request {
    pub method: Method,
    /// Path and query (the origin is the client's).
    pub path: String,
    /// The JSON body, serialized once (not again on every attempt).
    pub body: Option<Bytes>,
    pub class: Class,
    /// Send the session's bearer token (and refresh it on `TokenError`).
    pub authenticated: bool,
    pub body_limit: usize,
    /// Retry 5xx answers (off for probes whose 5xx means "not supported here").
    pub retry_server_errors: bool,
    /// The kind of a plain 403 here.
    pub forbidden: ErrorKind,
    /// Not sent once this is pressed before its first attempt ([`ApiError::Stopped`]).
    pub stop: Option<Interrupt>,
}

impl Request {
    /// A request with the usual settings: authenticated, small body, 5xx retried, 403 =
    /// permission denied.
    pub fn new(method: Method, url: Url, class: Class) -> Request {
        Request::at_path(method, url[url::Position::BeforePath..].to_owned(), class)
    }

    /// [`Request::new`] with the path and query given directly (they must be encoded).
    pub fn at_path(method: Method, path: String, class: Class) -> Request {
        Request {
            method,
            path,
            body: None,
            class,
            authenticated: true,
            body_limit: SMALL_BODY_LIMIT,
            retry_server_errors: true,
            forbidden: ErrorKind::PermissionDenied,
            stop: None,
        }
    }

    /// `METHOD /path` for messages (no query string, no host).
    pub fn describe(&self) -> String {
        format!("{} {}", self.method, self.path_only())
    }

    /// Sets the JSON body.
    pub fn set_json(&mut self, body: &Value) {
        self.body = Some(Bytes::from(body.to_string()));
    }

    /// The path without the query string.
    pub fn path_only(&self) -> &str {
        self.path.split_once('?').map_or(&self.path, |(p, _)| p)
    }
}

/// The shared sending machinery of a client.
pub(crate) struct Transport {
    http: HttpClient,
    semaphore: Semaphore,
    reads: Throttle,
    writes: Throttle,
    counters: Counters,
    max_retries: u32,
    request_timeout: Duration,
    deadline: Option<Duration>,
    /// Removes secrets from every server-supplied text before it leaves the transport.
    redactor: Redactor,
}

/// Why one attempt failed in a way that may be retried.
enum Retryable {
    Unreachable(String),
    Timeout(Duration),
    BadBody(String),
    Server(ApiError),
}

impl Transport {
    pub fn new(
        http: HttpClient,
        concurrency: usize,
        read_rate: Option<super::Rate>,
        write_rate: Option<super::Rate>,
        max_retries: u32,
        request_timeout: Duration,
        deadline: Option<Duration>,
    ) -> Transport {
        Transport {
            http,
            semaphore: Semaphore::new(concurrency.clamp(1, Semaphore::MAX_PERMITS)),
            reads: Throttle::new(read_rate),
            writes: Throttle::new(write_rate),
            counters: Counters::default(),
            max_retries,
            request_timeout,
            deadline,
            redactor: Redactor::default(),
        }
    }

    /// The secrets removed from every server-supplied text (the session adds its own).
    pub(crate) fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// `err` with its server-supplied text redacted and cut (for errors built outside the
    /// sending loop from a server's answer).
    pub(crate) fn scrub(&self, err: ApiError) -> ApiError {
        err.scrubbed(&self.redactor)
    }

    pub fn stats(&self) -> ApiStats {
        ApiStats {
            requests: self.counters.requests.load(Ordering::Relaxed),
            retries: self.counters.retries.load(Ordering::Relaxed),
            rate_limited: self.counters.rate_limited.load(Ordering::Relaxed),
        }
    }

    fn throttle(&self, class: Class) -> &Throttle {
        match class {
            Class::Read => &self.reads,
            Class::Write => &self.writes,
        }
    }

    /// Sends `req` until it succeeds, fails for good, or its deadline passes; returns the JSON
    /// body of the 2xx answer.
    pub async fn execute(
        &self,
        req: &Request,
        session: Option<&dyn TokenHolder>,
    ) -> Result<Value, ApiError> {
        self.execute_with(req, session, |body| serde_json::from_slice::<Value>(body))
            .await
    }

    /// Sends a write whose answer is not needed: any 2xx is success, its body not decoded
    /// (it may be anything, even not JSON, or cut short in transit). A 2xx means the server
    /// applied the write, so the request is never sent again after one (the caller reads the
    /// config back to verify it); without a 2xx it is retried as
    /// [`execute_with`](Transport::execute_with) retries (5xx, 408, 429, connection errors,
    /// timeouts).
    pub async fn execute_write(
        &self,
        req: &Request,
        session: Option<&dyn TokenHolder>,
    ) -> Result<(), ApiError> {
        self.run(req, session, |_| Ok(()), || Some(())).await
    }

    /// [`Transport::execute`] with the 2xx body decoded by `decode`; a decode error, or a body
    /// cut short, is a bad body and is retried like one, which sends the request again: a
    /// write that must not be re-sent after a 2xx goes through
    /// [`execute_write`](Transport::execute_write).
    pub async fn execute_with<T>(
        &self,
        req: &Request,
        session: Option<&dyn TokenHolder>,
        decode: impl Fn(&[u8]) -> serde_json::Result<T>,
    ) -> Result<T, ApiError> {
        self.run(req, session, decode, || None).await
    }

    /// The sending loop of [`execute_with`](Transport::execute_with) and
    /// [`execute_write`](Transport::execute_write). `after_cut_2xx` gives the result of a 2xx
    /// whose body was cut short in transit, or `None` to retry it as a bad body. Every error
    /// leaves with its server-supplied text redacted.
    async fn run<T>(
        &self,
        req: &Request,
        session: Option<&dyn TokenHolder>,
        decode: impl Fn(&[u8]) -> serde_json::Result<T>,
        after_cut_2xx: impl Fn() -> Option<T>,
    ) -> Result<T, ApiError> {
        self.attempts(req, session, decode, after_cut_2xx)
            .await
            .map_err(|e| self.scrub(e))
    }

    async fn attempts<T>(
        &self,
        req: &Request,
        session: Option<&dyn TokenHolder>,
        decode: impl Fn(&[u8]) -> serde_json::Result<T>,
        after_cut_2xx: impl Fn() -> Option<T>,
    ) -> Result<T, ApiError> {
        let started = Instant::now();
        let deadline_at = self.deadline.map(|d| started + d);
        let mut backoff = ExponentialBuilder::new()
            .with_min_delay(Duration::from_millis(200))
            .with_max_delay(Duration::from_secs(10))
            .with_jitter()
            .with_max_times(self.max_retries as usize)
            .build();
        let session = if req.authenticated { session } else { None };
        let mut refreshes = 0u32;
        let mut rate_limited_waits = 0u32;
        // An attempt went out that the server may have processed (no answer saying it did not).
        let mut maybe_processed = false;
        let throttle = self.throttle(req.class);
        let timed_out = || ApiError::Timeout {
            request: req.describe(),
            after: started.elapsed(),
        };

        loop {
            if let Some(s) = session {
                s.renew_if_due(self).await;
            }
            // 429 gate of the class, then a slot, then the pace of the class.
            let turn = async {
                let permit = loop {
                    if let Some(until) = throttle.closed_until() {
                        if deadline_at.is_some_and(|d| until > d) {
                            return Err(ApiError::RateLimited {
                                request: req.describe(),
                                message: "the server asked to pause past the request deadline"
                                    .into(),
                            });
                        }
                        tokio::time::sleep_until(until).await;
                    }
                    let permit = bounded(deadline_at, self.semaphore.acquire())
                        .await
                        .ok_or_else(timed_out)?
                        .map_err(|_| timed_out())?;
                    if throttle.closed_until().is_none() {
                        break permit;
                    }
                };
                bounded(deadline_at, throttle.pace())
                    .await
                    .ok_or_else(timed_out)?;
                Ok(permit)
            };
            // A stop keeps the request from being sent, unless an attempt the server may have
            // processed went out: then it is in flight and is finished (retries included).
            let stop = req.stop.as_ref().filter(|_| !maybe_processed);
            let stopped = || ApiError::Stopped {
                request: req.describe(),
            };
            let permit = match stop {
                Some(stop) => tokio::select! {
                    biased;
                    () = stop.stopped() => return Err(stopped()),
                    permit = turn => permit?,
                },
                None => turn.await?,
            };
            if stop.is_some_and(Interrupt::requested) {
                return Err(stopped());
            }
            maybe_processed = true;
            let silent = self.counters.silent_in_a_row.load(Ordering::Relaxed);
            if silent >= SILENT_ATTEMPTS_TO_GIVE_UP {
                return Err(ApiError::Unreachable {
                    request: req.describe(),
                    detail: format!(
                        "the server stopped answering ({silent} attempts in a row timed out); \
                         giving up on the requests still to send"
                    ),
                });
            }
            let token = session.map(|s| s.bearer());
            let remaining = deadline_at.map(|d| d.saturating_duration_since(Instant::now()));
            let per_attempt =
                remaining.map_or(self.request_timeout, |r| r.min(self.request_timeout));
            if per_attempt.is_zero() {
                return Err(timed_out());
            }
            self.counters.requests.fetch_add(1, Ordering::Relaxed);
            let outcome = tokio::time::timeout(
                per_attempt,
                self.attempt(req, token.as_ref().and_then(|(_, b)| b.as_ref())),
            )
            .await;
            drop(permit);

            match outcome {
                Err(_) => self
                    .counters
                    .silent_in_a_row
                    .fetch_add(1, Ordering::Relaxed),
                Ok(_) => self.counters.silent_in_a_row.swap(0, Ordering::Relaxed),
            };
            let failure = match outcome {
                Err(_) => Retryable::Timeout(per_attempt),
                Ok(Err(HttpError::Connect(detail) | HttpError::Send(detail))) => {
                    Retryable::Unreachable(detail)
                }
                Ok(Err(HttpError::Body { status, message })) => {
                    match after_cut_2xx().filter(|_| status.is_success()) {
                        Some(v) => {
                            tracing::debug!(method = %req.method, path = req.path_only(), status = status.as_u16(), "2xx answer cut short; the request was processed and is not re-sent");
                            throttle.note_success();
                            if let (Some(s), Some((generation, _))) = (session, &token) {
                                s.worked(*generation);
                            }
                            return Ok(v);
                        }
                        None => Retryable::BadBody(format!("truncated body: {message}")),
                    }
                }
                Ok(Err(HttpError::TooLarge { status })) => {
                    // A write answered 2xx was processed, whatever its body: not an error.
                    if status.is_success()
                        && let Some(v) = after_cut_2xx()
                    {
                        throttle.note_success();
                        if let (Some(s), Some((generation, _))) = (session, &token) {
                            s.worked(*generation);
                        }
                        return Ok(v);
                    }
                    return Err(ApiError::Decode {
                        request: req.describe(),
                        detail: format!("response body larger than {} bytes", req.body_limit),
                    });
                }
                Ok(Err(HttpError::InvalidPath(detail))) => {
                    return Err(ApiError::InvalidArgument { detail });
                }
                Ok(Ok(HttpResponse {
                    status,
                    headers,
                    body,
                })) => {
                    tracing::debug!(method = %req.method, path = req.path_only(), status = status.as_u16(), "infisical response");
                    if status.is_success() {
                        match decode(&body) {
                            Ok(v) => {
                                throttle.note_success();
                                if let (Some(s), Some((generation, _))) = (session, &token) {
                                    s.worked(*generation);
                                }
                                return Ok(v);
                            }
                            // No excerpt: a 2xx body can hold secrets (LDAP bindPass, ...).
                            Err(e) => Retryable::BadBody(format!(
                                "invalid or truncated JSON ({} bytes): {e}",
                                body.len()
                            )),
                        }
                    } else if status == StatusCode::TOO_MANY_REQUESTS {
                        self.counters.rate_limited.fetch_add(1, Ordering::Relaxed);
                        let server = ServerError::parse(&body);
                        let wait = rate_limit_wait(&headers, &server.message);
                        let until = Instant::now() + wait;
                        rate_limited_waits += 1;
                        if deadline_at.is_some_and(|d| until > d)
                            || (deadline_at.is_none()
                                && rate_limited_waits > MAX_RATE_LIMITED_WAITS)
                        {
                            return Err(ApiError::RateLimited {
                                request: req.describe(),
                                message: server.message,
                            });
                        }
                        tracing::info!(
                            path = req.path_only(),
                            wait_secs = wait.as_secs_f64(),
                            "rate limited by the server; pausing this request class"
                        );
                        throttle.note_rate_limited();
                        throttle.close_until(until);
                        // A 429 was not processed.
                        maybe_processed = false;
                        continue;
                    } else {
                        let err = status_error(req, status, &headers, &body);
                        if err.is_token_error() {
                            // A token can expire again while a request waits (429 pauses), so a
                            // request may refresh more than once, but not endlessly.
                            if let (Some(s), Some((generation, _))) = (session, &token)
                                && refreshes < MAX_REFRESHES_PER_REQUEST
                            {
                                refreshes += 1;
                                s.refresh(self, *generation).await?;
                                // A refused token: the request was not processed.
                                maybe_processed = false;
                                continue;
                            }
                            return Err(err.with_kind(ErrorKind::Auth));
                        }
                        // 408: the server (or a proxy) timed out an idle connection and said so
                        // as the answer to this request; it was not processed.
                        if (status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT)
                            && req.retry_server_errors
                        {
                            Retryable::Server(err)
                        } else {
                            return Err(err);
                        }
                    }
                }
            };

            let give_up = |failure: Retryable| match failure {
                Retryable::Unreachable(detail) => ApiError::Unreachable {
                    request: req.describe(),
                    detail,
                },
                Retryable::Timeout(after) => ApiError::Timeout {
                    request: req.describe(),
                    after,
                },
                Retryable::BadBody(detail) => ApiError::Decode {
                    request: req.describe(),
                    detail,
                },
                Retryable::Server(err) => err,
            };
            let Some(delay) = backoff.next() else {
                return Err(give_up(failure));
            };
            if deadline_at.is_some_and(|d| Instant::now() + delay >= d) {
                return Err(give_up(failure));
            }
            self.counters.retries.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(
                path = req.path_only(),
                delay_ms = delay.as_millis() as u64,
                "retrying"
            );
            tokio::time::sleep(delay).await;
        }
    }

    /// One HTTP exchange: send, then read the body up to the request's cap.
    async fn attempt(
        &self,
        req: &Request,
        bearer: Option<&HeaderValue>,
    ) -> Result<HttpResponse, HttpError> {
        self.http
            .send(
                req.method.clone(),
                &req.path,
                bearer,
                req.body.clone(),
                req.body_limit,
            )
            .await
    }
}

/// Awaits `fut`, or `None` when `deadline` passes first.
async fn bounded<F: std::future::Future>(deadline: Option<Instant>, fut: F) -> Option<F::Output> {
    match deadline {
        Some(d) => tokio::time::timeout_at(d, fut).await.ok(),
        None => Some(fut.await),
    }
}

/// The generic classification of an error status; callers refine it.
fn status_error(req: &Request, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> ApiError {
    let mut server = ServerError::parse(body);
    if status.is_redirection() {
        // Redirects are not followed (the bearer token must not go to another address).
        let to = headers
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map_or_else(|| "elsewhere".to_owned(), |l| format!("to {}", truncate(l)));
        server.message = format!(
            "the server redirects {to}; idguard does not follow redirects: set INFISICAL_DOMAIN \
             to the address the API is served at"
        );
    }
    let code = status.as_u16();
    let kind = match code {
        401 if server.error_name.as_deref() == Some("ValidationFailure") => ErrorKind::Validation,
        401 => ErrorKind::Auth,
        403 if server.error_name.as_deref() == Some("TokenError") => ErrorKind::Auth,
        403 => req.forbidden,
        404 => ErrorKind::NotFound,
        400 | 409 | 422 => ErrorKind::Validation,
        _ if status.is_server_error() => ErrorKind::Server,
        _ => ErrorKind::Server,
    };
    ApiError::Status {
        request: req.describe(),
        status: code,
        error_name: server.error_name,
        message: server.message,
        kind,
    }
}
