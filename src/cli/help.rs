//! The text `--help` prints after the flags: the environment variables idguard reads and the
//! exit codes (the README's "Exit codes" table, in short). Flag help lives on the flags.

/// `--help` of idguard and of the commands that talk to Infisical.
pub const ENVIRONMENT_AND_EXIT_CODES: &str = r"Environment:
  INFISICAL_TOKEN                         An access token, used as is (or --token-file)
  INFISICAL_UNIVERSAL_AUTH_CLIENT_ID      Universal-auth client id (when there is no token)
  INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET  Universal-auth client secret
  INFISICAL_DOMAIN, INFISICAL_API_URL     Base URL when --api-url is not given
  INFISICAL_ORG_ID                        As --org-id
  IDGUARD_NOTIFY_URL                      As audit --notify (keeps the URL out of process lists)
  IDGUARD_LOG                             As --log-level
  NO_COLOR                                No colour on stderr
  HTTPS_PROXY, NO_PROXY                   Proxies for the requests to Infisical

Exit codes:
    0  Everything evaluated; no unexempted finding at or above --fail-on
    1  Findings at or above --fail-on; `test`: an expectation does not hold
    2  Evaluation incomplete: at least one result is `error`
    3  Remediation: a write failed or did not verify
    4  The blast-radius guard refused the apply; nothing was written
   64  Bad arguments
   65  Invalid policy, cases, plan, journal or snapshot file
   69  The server could not be reached, or the identity listing failed
   74  The reports could not be written
   77  Authentication or permission failure
  130  Stopped by Ctrl-C
";

/// `-h`: where that text is.
pub const SEE_LONG_HELP: &str = "Environment variables and exit codes: --help.";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::Exit;

    /// The codes of the lines of `text` that start (after `prefix` and spaces) with a number.
    fn codes(text: &str, prefix: &str) -> Vec<u8> {
        text.lines()
            .filter_map(|l| l.strip_prefix(prefix))
            .filter_map(|l| l.trim_start().split([' ', '|']).next()?.parse().ok())
            .collect()
    }

    /// The help's exit codes and the README's table list exactly the codes idguard exits
    /// with, in the same order: neither copy can drift from the code.
    #[test]
    fn the_help_and_the_readme_list_every_exit_code() {
        let all: Vec<u8> = Exit::ALL.iter().map(|e| e.code()).collect();
        let help = ENVIRONMENT_AND_EXIT_CODES
            .split_once("Exit codes:")
            .map(|(_, t)| t)
            .unwrap_or_default();
        assert_eq!(codes(help, ""), all);
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
            .expect("README.md");
        let table = readme
            .split_once("## Exit codes")
            .and_then(|(_, rest)| rest.split_once("\n## "))
            .map(|(t, _)| t)
            .unwrap_or_default();
        assert_eq!(codes(table, "|"), all);
    }
}
