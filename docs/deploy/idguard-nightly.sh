#!/bin/sh
# One nightly idguard audit, for cron (see crontab beside this file). Prints nothing after a
# clean run, so cron mails only when there is something to read; the exit code is idguard's:
# 0 clean, 1 findings, 2 incomplete (some configs could not be read), anything else a failure.
#
# Credentials come from a file only the idguard user can read (mode 0600) that sets
# INFISICAL_UNIVERSAL_AUTH_CLIENT_ID and INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET (and
# INFISICAL_DOMAIN for a self-hosted instance). Nothing secret is written here or on argv.
set -u

IDGUARD_HOME=${IDGUARD_HOME:-/var/lib/idguard}
IDGUARD_POLICY=${IDGUARD_POLICY:-/etc/idguard/policy.yaml}
IDGUARD_CREDENTIALS=${IDGUARD_CREDENTIALS:-/etc/idguard/credentials.env}

if [ ! -r "$IDGUARD_CREDENTIALS" ]; then
    echo "idguard-nightly: cannot read $IDGUARD_CREDENTIALS" >&2
    exit 78
fi
set -a # export every variable the credentials file sets
. "$IDGUARD_CREDENTIALS"
set +a
umask 077
cd "$IDGUARD_HOME" || exit 74

# Reports go to reports/<UTC timestamp>/; reports/latest points at the newest. --incremental
# reads only the configs the audit log says changed since the last run's snapshot.json, with a
# full read at least every 7 days (--max-base-age); that full read must finish within
# --max-duration to become the next runs' base.
idguard audit --quiet --incremental --policy "$IDGUARD_POLICY" --format json,md,html,sarif --max-duration 2h
rc=$?

# trend.html and trend.md over every run so far (unreadable runs are listed, never fatal).
idguard trend --quiet reports || echo "idguard-nightly: trend failed" >&2

case $rc in
    0) ;;
    1) echo "idguard: findings; see $IDGUARD_HOME/reports/latest/report.md" ;;
    2) echo "idguard: the audit is incomplete (exit 2); see $IDGUARD_HOME/reports/latest/report.md" ;;
    *) echo "idguard: the audit failed (exit $rc); the error is above" >&2 ;;
esac
exit "$rc"
