//! From connection flags and the environment to a logged-in [`Client`]: base URL resolution
//! (flag, `INFISICAL_DOMAIN`, `INFISICAL_API_URL`, default), credentials (environment or
//! `--token-file`, never argv), rates, and the exit code of a failed connection.

use secrecy::SecretString;

use crate::cli::ConnectionArgs;
use crate::exit::{Exit, Failure};
use crate::infisical::{
    ApiError, Client, ConnectOptions, Credentials, ErrorKind, check_api_url, load_ca_certs,
    normalise_api_url,
};
use crate::interrupt::Interrupt;

/// The default base URL (Infisical Cloud, US).
pub const DEFAULT_API_URL: &str = "https://app.infisical.com";

/// The hint printed with authentication failures.
pub const CREDENTIALS_HINT: &str = "set INFISICAL_UNIVERSAL_AUTH_CLIENT_ID and \
INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET (universal auth), or INFISICAL_TOKEN (or --token-file) \
for a ready access token, and check that the identity may read identities in the organization";

/// The base URL: `--api-url`, else `INFISICAL_DOMAIN`, else `INFISICAL_API_URL`, else Cloud.
pub fn api_url(flag: Option<&str>) -> String {
    flag.map(str::to_owned)
        .or_else(|| env_nonempty("INFISICAL_DOMAIN"))
        .or_else(|| env_nonempty("INFISICAL_API_URL"))
        .unwrap_or_else(|| DEFAULT_API_URL.to_owned())
}

/// The base URL for a command that acts on a file (a plan or a journal) recording the server
/// `recorded`. The URL comes from `--api-url` or the environment, never from the file: a
/// configured URL that differs gets a warning (the organization check after login still
/// refuses another organization); with nothing configured, a file naming a server other than
/// the default stops here, before any request, so a file from someone else cannot collect the
/// credentials.
pub fn url_for_file(
    flag: Option<&str>,
    recorded: &str,
    what: &str,
    stderr: &mut dyn std::io::Write,
) -> Result<String, Failure> {
    let recorded_shown: String = recorded.chars().take(200).collect::<String>();
    let recorded_shown = recorded_shown.escape_debug();
    let configured = flag
        .map(str::to_owned)
        .or_else(|| env_nonempty("INFISICAL_DOMAIN"))
        .or_else(|| env_nonempty("INFISICAL_API_URL"));
    match configured {
        Some(url) => {
            if normalise_api_url(&url) != normalise_api_url(recorded) {
                let _ = writeln!(
                    stderr,
                    "idguard: warning: the {what} was made for {recorded_shown}; using the \
                     configured {url}"
                );
            }
            Ok(url)
        }
        None if normalise_api_url(recorded) == DEFAULT_API_URL => Ok(DEFAULT_API_URL.to_owned()),
        None => Err(Failure::new(
            Exit::Usage,
            anyhow::anyhow!(
                "the {what} was made for {recorded_shown}, but no server is configured (idguard \
                 would use {DEFAULT_API_URL}); nothing was sent"
            ),
        )
        .hint(
            "idguard never sends credentials to a URL read from a file: to use that server, \
             pass --api-url URL or set INFISICAL_DOMAIN",
        )),
    }
}

/// Logs in for a command that writes what a file (plan or journal) describes: the URL by
/// [`url_for_file`], and the organization of the identity idguard is logged in as (never the
/// file's) must be the file's `recorded_org` (and `--org-id`, when given, must be it too).
pub async fn connect_for_file(
    conn: &ConnectionArgs,
    recorded_url: &str,
    recorded_org: &str,
    what: &str,
    stderr: &mut dyn std::io::Write,
) -> Result<Client, Failure> {
    let url = url_for_file(conn.api_url.as_deref(), recorded_url, what, stderr)?;
    let mut opts = options(conn)?;
    opts.api_url = url;
    // Asked of the server: the organization of the identity the credentials log in as.
    opts.org_id = None;
    let client = connect(opts).await?;
    let logged_in = client.org_id();
    if let Some(flag) = conn
        .org_id
        .as_deref()
        .map(str::trim)
        .filter(|o| !o.is_empty())
        && flag != logged_in
    {
        return Err(Failure::new(
            Exit::Usage,
            anyhow::anyhow!(
                "--org-id {flag} is not the organization of the identity idguard is logged in as \
                 ({logged_in}); nothing was written"
            ),
        ));
    }
    if logged_in != recorded_org {
        return Err(Failure::new(
            Exit::Usage,
            anyhow::anyhow!(
                "the {what} is for organization {}, but idguard is logged in to organization \
                 {logged_in}; nothing was written",
                recorded_org
                    .chars()
                    .take(100)
                    .collect::<String>()
                    .escape_debug()
            ),
        ));
    }
    Ok(client)
}

/// Connection options from the flags and the environment.
pub fn options(args: &ConnectionArgs) -> Result<ConnectOptions, Failure> {
    let credentials = match &args.token_file {
        Some(path) => {
            let bytes = crate::input::read_capped(path, crate::input::TOKEN_FILE_CAP, "token file")
                .map_err(|e| {
                    let exit = if e.is_too_large() {
                        Exit::DataErr
                    } else {
                        Exit::NoPerm
                    };
                    Failure::new(exit, anyhow::anyhow!("--token-file: {e}"))
                })?;
            let text = String::from_utf8_lossy(&bytes);
            let token = text.trim();
            if token.is_empty() {
                return Err(Failure::new(
                    Exit::NoPerm,
                    anyhow::anyhow!("--token-file {} is empty", path.display()),
                ));
            }
            Credentials::Token(SecretString::from(token.to_owned()))
        }
        None => Credentials::from_env()
            .map_err(|e| Failure::new(Exit::NoPerm, e).hint(CREDENTIALS_HINT))?,
    };
    let url = api_url(args.api_url.as_deref());
    // A URL the client would refuse is a usage error, found before anything is sent.
    check_api_url(&url, args.allow_insecure_http).map_err(|e| {
        let hint = match e.kind() {
            ErrorKind::InsecureUrl => {
                "use https://, or pass --allow-insecure-http if you accept sending credentials in clear"
            }
            _ => "--api-url / INFISICAL_DOMAIN take the server's base URL, e.g. https://infisical.example.com",
        };
        Failure::new(Exit::Usage, e).hint(hint)
    })?;
    let (default_read, default_write) = ConnectOptions::default_rates_for(&url);
    let mut opts = ConnectOptions::new(url, credentials);
    opts.org_id = args.org_id.clone().filter(|s| !s.trim().is_empty());
    opts.concurrency = args.concurrency as usize;
    opts.read_rate = args.read_rate.or(default_read);
    opts.write_rate = args.write_rate.or(default_write);
    opts.max_retries = args.max_retries;
    opts.request_timeout = args.timeout;
    opts.deadline = Some(args.deadline);
    opts.allow_insecure_http = args.allow_insecure_http;
    if let Some(path) = &args.ca_cert {
        // Checked here so a bad file is an error before anything is sent: too large is bad
        // input (65), missing, unreadable or not PEM certificates a usage error (64).
        crate::input::read_capped(path, crate::input::CA_FILE_CAP, "CA certificate file").map_err(
            |e| {
                let exit = if e.is_too_large() {
                    Exit::DataErr
                } else {
                    Exit::Usage
                };
                Failure::new(exit, e).hint("--ca-cert takes a PEM file of CA certificates")
            },
        )?;
        load_ca_certs(path).map_err(|e| {
            Failure::new(Exit::Usage, e).hint("--ca-cert takes a PEM file of CA certificates")
        })?;
        opts.ca_cert = Some(path.clone());
    }
    Ok(opts)
}

/// Logs in and resolves the organization; Ctrl-C stops it (nothing was written yet).
pub async fn connect(opts: ConnectOptions) -> Result<Client, Failure> {
    tokio::select! {
        biased;
        () = Interrupt::process().stopped() => Err(Failure::new(
            Exit::Interrupted,
            anyhow::anyhow!("interrupted by Ctrl-C while connecting; nothing was written"),
        )),
        client = Client::connect(opts) => {
            client.map_err(|e| api_failure("cannot connect to Infisical", e))
        }
    }
}

/// The exit code and hint of an API error that stops a run (login or listing).
pub fn api_failure(context: &'static str, err: ApiError) -> Failure {
    let kind = err.kind();
    let failure = Failure::new(exit_for(kind), anyhow::Error::new(err).context(context));
    match kind {
        ErrorKind::Auth | ErrorKind::PermissionDenied => failure.hint(CREDENTIALS_HINT),
        ErrorKind::InsecureUrl => failure.hint("use https://, or pass --allow-insecure-http if you accept sending credentials in clear"),
        ErrorKind::Unreachable if is_certificate_problem(&failure.error) => failure.hint(
            "the server's TLS certificate is not trusted: for a private CA pass --ca-cert FILE \
             (verification is never turned off)",
        ),
        ErrorKind::Unreachable | ErrorKind::Timeout => {
            failure.hint("check --api-url / INFISICAL_DOMAIN and that the server is reachable")
        }
        _ => failure,
    }
}

/// Exit code for an error that stopped the login or the listing.
pub fn exit_for(kind: ErrorKind) -> Exit {
    match kind {
        ErrorKind::Auth | ErrorKind::PermissionDenied => Exit::NoPerm,
        ErrorKind::InsecureUrl => Exit::Usage,
        ErrorKind::ListingIncomplete => Exit::Incomplete,
        ErrorKind::Stopped => Exit::Interrupted,
        _ => Exit::Unavailable,
    }
}

/// Whether an error chain says the server's certificate was refused.
fn is_certificate_problem(err: &anyhow::Error) -> bool {
    let text = format!("{err:#}").to_ascii_lowercase();
    text.contains("certificate") || text.contains("unknownissuer")
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}
