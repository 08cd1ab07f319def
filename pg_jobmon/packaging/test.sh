#!/usr/bin/env bash
# Tests the pg_jobmon packages in OUT (default target/packages), as build.sh left them:
#  - postgresql-15-jobmon installed into a clean Debian 12 root (debootstrap, chroot) with
#    Debian's PostgreSQL 15: CREATE EXTENSION, a job logged in a transaction that rolls
#    back survives, check_job_status(), then dpkg -r removes every file it added;
#  - every major's .deb: file list, control fields and maintainer scripts; lintian;
#  - every major's RPM: rpm -qlp, rpm -qp --scripts, rpm -qpR;
#  - the PGXN distribution: META.json and the files it names.
# Prints one line per check and a closing "N passed, M failed"; exits non-zero on a failure.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=$(cd "${1:-$ROOT/target/packages}" && pwd)
source "$ROOT/tests/pg-majors.sh"
VERSION=$(sed -n 's/^version = "\([0-9.]*\)"/\1/p' "$ROOT/pg_jobmon/Cargo.toml" | head -1)
# The update scripts, 1.5.0 -> ... -> VERSION: every package must carry the whole chain.
mapfile -t UPDATE_SCRIPTS < <(cd "$ROOT/sql/upgrade" && ls pg_jobmon--*--*.sql)
DEB_VERSION="$VERSION-1"
ROOTS=/var/tmp/jobmon-pkg-roots
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok     $*"; }
bad() { failed=$((failed + 1)); echo "FAILED $*"; }
check() {  # DESCRIPTION COMMAND...: passes when the command succeeds
    local what=$1; shift
    local output
    if output=$("$@" 2>&1); then ok "$what"; else bad "$what"; printf '%s\n' "$output" | tail -n 20 | sed 's/^/       /'; fi
}

need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v lintian >/dev/null || need+=(lintian)
command -v rpm >/dev/null || need+=(rpm)
command -v unzip >/dev/null || need+=(unzip)
if [ ${#need[@]} -gt 0 ]; then
    env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
        --no-install-recommends "${need[@]}" >/dev/null
fi

# --- every .deb: contents, control, scripts, lintian --------------------------------------
for major in "${PG_SUPPORTED_MAJORS[@]}"; do
    deb="$OUT/postgresql-${major}-jobmon_${DEB_VERSION}_amd64.deb"
    if [ ! -f "$deb" ]; then bad "PostgreSQL $major: $deb exists"; continue; fi
    files=$(dpkg-deb -c "$deb" | awk '{print $NF}' | sed 's|^\./|/|')
    check "PostgreSQL $major .deb: library in /usr/lib/postgresql/$major/lib" \
        grep -qx "/usr/lib/postgresql/$major/lib/pg_jobmon.so" <<<"$files"
    for f in pg_jobmon.control "pg_jobmon--$VERSION.sql" "${UPDATE_SCRIPTS[@]}"; do
        check "PostgreSQL $major .deb: $f in /usr/share/postgresql/$major/extension" \
            grep -qx "/usr/share/postgresql/$major/extension/$f" <<<"$files"
    done
    check "PostgreSQL $major .deb: copyright and README" \
        bash -c "grep -qx /usr/share/doc/postgresql-$major-jobmon/copyright <<<'$files' && grep -qx /usr/share/doc/postgresql-$major-jobmon/README.md.gz <<<'$files'"
    check "PostgreSQL $major .deb: nothing outside the major's directories and its docs" \
        bash -c "! grep -v -e '/\$' -e '^/usr/lib/postgresql/$major/lib/' -e '^/usr/share/postgresql/$major/extension/' -e '^/usr/share/doc/postgresql-$major-jobmon/' <<<'$files'"
    check "PostgreSQL $major .deb: Depends on postgresql-$major" \
        bash -c "dpkg-deb -f '$deb' Depends | grep -qE '(^|, )postgresql-$major(,|\$)'"
    check "PostgreSQL $major .deb: Conflicts/Replaces postgresql-$major-pg-jobmon" \
        bash -c "dpkg-deb -f '$deb' Conflicts | grep -q postgresql-$major-pg-jobmon && dpkg-deb -f '$deb' Replaces | grep -q postgresql-$major-pg-jobmon"
    check "PostgreSQL $major .deb: no maintainer scripts" \
        bash -c "! dpkg-deb -I '$deb' | grep -qE '^ +[0-9]+ bytes, +[0-9]+ lines +\\*? *(pre|post)(inst|rm)'"
    lintian_out=$(lintian --no-tag-display-limit "$deb" 2>&1)
    if grep -q '^E:' <<<"$lintian_out"; then
        bad "PostgreSQL $major .deb: lintian reports no errors"; grep '^E:' <<<"$lintian_out" | sed 's/^/       /'
    else
        ok "PostgreSQL $major .deb: lintian reports no errors ($(grep -c '^W:' <<<"$lintian_out") warnings)"
    fi
done

# --- every RPM: files, scripts, requirements ----------------------------------------------
for major in "${PG_SUPPORTED_MAJORS[@]}"; do
    rpmf="$OUT/pg_jobmon_${major}-${VERSION}-1.x86_64.rpm"
    if [ ! -f "$rpmf" ]; then bad "PostgreSQL $major: $rpmf exists"; continue; fi
    files=$(rpm -qlp "$rpmf" 2>/dev/null)
    check "PostgreSQL $major RPM: library in /usr/pgsql-$major/lib" \
        grep -qx "/usr/pgsql-$major/lib/pg_jobmon.so" <<<"$files"
    for f in pg_jobmon.control "pg_jobmon--$VERSION.sql" "${UPDATE_SCRIPTS[@]}"; do
        check "PostgreSQL $major RPM: $f in /usr/pgsql-$major/share/extension" \
            grep -qx "/usr/pgsql-$major/share/extension/$f" <<<"$files"
    done
    check "PostgreSQL $major RPM: license and README" \
        bash -c "grep -q 'licenses/pg_jobmon_$major/LICENSE' <<<'$files' && grep -q 'doc/pg_jobmon_$major/README.md' <<<'$files'"
    check "PostgreSQL $major RPM: requires postgresql$major-server" \
        bash -c "rpm -qpR '$rpmf' 2>/dev/null | grep -qx 'postgresql$major-server'"
    check "PostgreSQL $major RPM: no install scripts" \
        bash -c "[ -z \"\$(rpm -qp --scripts '$rpmf' 2>/dev/null)\" ]"
done

# --- the PGXN distribution ----------------------------------------------------------------
zipf="$OUT/pg_jobmon-$VERSION.zip"
if [ -f "$zipf" ]; then
    tmp=$(mktemp -d)
    unzip -q "$zipf" -d "$tmp"
    check "PGXN: META.json names pg_jobmon $VERSION and its files exist" python3 - "$tmp/pg_jobmon-$VERSION" "$VERSION" <<'PY'
import json, os, sys
root, version = sys.argv[1], sys.argv[2]
meta = json.load(open(os.path.join(root, "META.json")))
for key in ("name", "abstract", "version", "maintainer", "license", "provides", "meta-spec"):
    assert key in meta, f"META.json lacks {key}"
assert meta["name"] == "pg_jobmon" and meta["version"] == version, meta
for ext, p in meta["provides"].items():
    assert p["version"] == version, p
    for f in (p["file"], p.get("docfile")):
        if f:
            assert os.path.exists(os.path.join(root, f)), f"{f} named in META.json is missing"
assert os.path.exists(os.path.join(root, "pg_jobmon", "Cargo.toml"))
PY
    rm -rf "$tmp"
else
    bad "PGXN: $zipf exists"
fi

# --- postgresql-15-jobmon in a clean Debian 12 root -----------------------------------------
install_test() {
    local major=$1 deb="$OUT/postgresql-${1}-jobmon_${DEB_VERSION}_amd64.deb"
    local base="$ROOTS/bookworm-minbase-pg.tar" dir
    mkdir -p "$ROOTS"
    if [ ! -f "$base" ]; then
        dir=$(mktemp -d /var/tmp/jobmon-debootstrap-XXXXXX)
        debootstrap --variant=minbase bookworm "$dir" http://deb.debian.org/debian >"$dir.log" 2>&1 \
            || { tail -n 20 "$dir.log"; rm -rf "$dir" "$dir.log"; return 1; }
        tar -C "$dir" -cf "$base.tmp" . && mv "$base.tmp" "$base"
        rm -rf "$dir" "$dir.log"
    fi
    dir=$(mktemp -d /var/tmp/jobmon-pkg-root-XXXXXX)
    trap 'umount "$dir/proc" 2>/dev/null; rm -rf "$dir"' RETURN
    tar -C "$dir" -xf "$base"
    chmod 0755 "$dir"   # the root of the chroot (tar restores mktemp's 0700): postgres must traverse it
    cp /etc/resolv.conf "$dir/etc/resolv.conf"
    mount -t proc proc "$dir/proc"
    cp "$deb" "$dir/tmp/"
    # No services start on their own in a chroot; the test starts the cluster itself.
    printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d"; chmod +x "$dir/usr/sbin/policy-rc.d"
    chroot "$dir" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    chroot "$dir" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "postgresql-$major" >/dev/null || return 1
    chroot "$dir" sh -c 'dpkg-query -W -f "\${binary:Package}\n" | sort' >"$dir/tmp/before.txt"
    chroot "$dir" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "/tmp/$(basename "$deb")" >/dev/null \
        || return 1
    chroot "$dir" pg_ctlcluster "$major" main start || return 1
    chroot "$dir" runuser -u postgres -- env -C / psql -X -v ON_ERROR_STOP=1 -At -d postgres <<'SQL' >"$dir/tmp/psql.out" 2>&1 || { cat "$dir/tmp/psql.out"; return 1; }
CREATE SCHEMA jobmon;
CREATE EXTENSION pg_jobmon SCHEMA jobmon;
BEGIN;
SELECT jobmon.add_job('package test') AS job \gset
SELECT jobmon.add_step(:job, 'a step that is rolled back') AS step \gset
SELECT jobmon.update_step(:step, 'CRITICAL', 'failed');
SELECT jobmon.fail_job(:job);
ROLLBACK;
SELECT 'survived ' || count(*) FROM jobmon.job_log WHERE job_name = 'PACKAGE TEST' AND status = 'CRITICAL';
SELECT 'steps ' || count(*) FROM jobmon.job_detail;
SELECT 'check ' || alert_status || ' ' || coalesce(job_name, '-') FROM jobmon.check_job_status();
SELECT 'version ' || extversion FROM pg_extension WHERE extname = 'pg_jobmon';
SQL
    grep -qx 'survived 1' "$dir/tmp/psql.out" && grep -qx 'steps 1' "$dir/tmp/psql.out" \
        && grep -qx "version $VERSION" "$dir/tmp/psql.out" && grep -q '^check ' "$dir/tmp/psql.out" \
        || { cat "$dir/tmp/psql.out"; return 1; }
    chroot "$dir" pg_ctlcluster "$major" main stop || return 1
    chroot "$dir" dpkg -L "postgresql-$major-jobmon" | while read -r f; do
        [ -f "$dir$f" ] && echo "$f"; done >"$dir/tmp/files.txt"
    [ -s "$dir/tmp/files.txt" ] || { echo "dpkg -L lists no file"; return 1; }
    chroot "$dir" dpkg -r "postgresql-$major-jobmon" >/dev/null || return 1
    local left=0
    while read -r f; do
        if [ -e "$dir$f" ]; then echo "left after dpkg -r: $f"; left=1; fi
    done <"$dir/tmp/files.txt"
    [ "$left" = 0 ]
}
check "postgresql-15-jobmon in a clean Debian 12 root: install, CREATE EXTENSION, a rolled-back job survives, check_job_status(), dpkg -r removes every file" \
    install_test 15

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
