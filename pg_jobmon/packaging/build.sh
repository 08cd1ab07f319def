#!/usr/bin/env bash
# Builds the pg_jobmon packages into OUT (default target/packages): for every supported
# PostgreSQL major NN a Debian package postgresql-NN-jobmon (Debian's layout for that
# major) and an RPM pg_jobmon_NN (PGDG's layout), and the PGXN source distribution. The
# libraries are the release builds tests/setup.sh makes for each major (run it first, as
# tests/package.sh does); `cargo pgrx package` lays out the files, dpkg-deb and rpmbuild
# wrap them.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=$(mkdir -p "${1:-$ROOT/target/packages}" && cd "${1:-$ROOT/target/packages}" && pwd)
export PATH="$HOME/.cargo/bin:$PATH"
say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
source "$ROOT/tests/pg-majors.sh"

VERSION=$(sed -n 's/^version = "\([0-9.]*\)"/\1/p' "$ROOT/pg_jobmon/Cargo.toml" | head -1)
RELEASE=1
MAINTAINER="pg_jobmon developers <pg_jobmon@users.noreply.example>"
HERE="$ROOT/pg_jobmon/packaging"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

need=()
command -v dpkg-deb >/dev/null || need+=(dpkg)
command -v rpmbuild >/dev/null || need+=(rpm)
command -v strip >/dev/null || need+=(binutils)
if [ ${#need[@]} -gt 0 ]; then
    say "installing ${need[*]}"
    env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The extension's files for one major, as cargo pgrx lays them out: library, control file,
# install and update scripts.
stage_major() {
    local major=$1 pgc stage
    pgc=$(pg_config_of "$major")
    stage="$WORK/pgrx-$major"
    (cd "$ROOT/pg_jobmon" && PGRX_PG_CONFIG_PATH="$pgc" cargo pgrx package --pg-config "$pgc" \
        --no-default-features --features "pg$major" --out-dir "$stage") >"$WORK/pgrx-$major.log" 2>&1 \
        || { tail -n 40 "$WORK/pgrx-$major.log" >&2; echo "cargo pgrx package for PostgreSQL $major failed" >&2; exit 1; }
    LIB="$stage$("$pgc" --pkglibdir)/pg_jobmon.so"
    EXT="$stage$("$pgc" --sharedir)/extension"
    [ -f "$LIB" ] && [ -f "$EXT/pg_jobmon.control" ] \
        || { echo "cargo pgrx package left no library or control file in $stage" >&2; exit 1; }
}

doc_files() {  # DIR: README, copyright
    install -d "$1"
    gzip -9n -c "$ROOT/README.md" >"$1/README.md.gz"
    install -m 0644 "$HERE/copyright" "$1/copyright"
}

build_deb() {
    local major=$1 pkg="postgresql-$1-jobmon" root="$WORK/deb-$1"
    local libdir="$root/usr/lib/postgresql/$major/lib" extdir="$root/usr/share/postgresql/$major/extension"
    install -d "$libdir" "$extdir" "$root/DEBIAN"
    install -m 0644 "$LIB" "$libdir/pg_jobmon.so"
    strip --strip-unneeded --remove-section=.comment --remove-section=.note "$libdir/pg_jobmon.so"
    install -m 0644 "$EXT"/pg_jobmon.control "$EXT"/pg_jobmon--*.sql "$extdir/"
    doc_files "$root/usr/share/doc/$pkg"
    printf '%s (%s-%s) unstable; urgency=medium\n\n  * Release %s.\n\n -- %s  %s\n' \
        "$pkg" "$VERSION" "$RELEASE" "$VERSION" "$MAINTAINER" "$(date -R -d @"${SOURCE_DATE_EPOCH:-$(git -C "$ROOT" log -1 --format=%ct)}")" \
        | gzip -9n >"$root/usr/share/doc/$pkg/changelog.Debian.gz"
    local size
    size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
    cat >"$root/DEBIAN/control" <<CONTROL
Package: $pkg
Source: pg-jobmon
Version: $VERSION-$RELEASE
Architecture: amd64
Maintainer: $MAINTAINER
Installed-Size: $size
Depends: postgresql-$major, libc6 (>= 2.34), libgcc-s1 (>= 4.2)
Conflicts: postgresql-$major-pg-jobmon
Replaces: postgresql-$major-pg-jobmon
Provides: postgresql-$major-pg-jobmon
Section: database
Priority: optional
Homepage: https://pgxn.org/dist/pg_jobmon/
Description: job logging and monitoring for PostgreSQL $major (pg_jobmon, Rust)
 pg_jobmon logs batch jobs and their steps from SQL; the log rows survive the
 caller's rollback. It has the complete SQL API of pg_jobmon 1.5.0 (add_job,
 add_step, update_step, close_job, fail_job, cancel_job, sql_step, sql_job,
 check_job_status, show_*) and writes through one persistent background
 connection per session instead of dblink. ALTER EXTENSION pg_jobmon UPDATE
 moves a pg_jobmon 1.5.0 database to this version in place.
CONTROL
    (cd "$root" && find usr -type f -printf '%P\n' | sort | sed 's|^|usr/|' | xargs md5sum) >"$root/DEBIAN/md5sums"
    find "$root" -type d -exec chmod 0755 {} +
    dpkg-deb --root-owner-group -Zxz --build "$root" "$OUT/${pkg}_${VERSION}-${RELEASE}_amd64.deb" >/dev/null
}

build_rpm() {
    local major=$1 pkg="pg_jobmon_$1" top="$WORK/rpm-$1"
    install -d "$top/SOURCES/files/usr/pgsql-$major/lib" "$top/SOURCES/files/usr/pgsql-$major/share/extension"
    install -m 0755 "$LIB" "$top/SOURCES/files/usr/pgsql-$major/lib/pg_jobmon.so"
    strip --strip-unneeded --remove-section=.comment "$top/SOURCES/files/usr/pgsql-$major/lib/pg_jobmon.so"
    install -m 0644 "$EXT"/pg_jobmon.control "$EXT"/pg_jobmon--*.sql "$top/SOURCES/files/usr/pgsql-$major/share/extension/"
    install -m 0644 "$ROOT/README.md" "$HERE/copyright" "$top/SOURCES/"
    sed -e "s/@MAJOR@/$major/g" -e "s/@VERSION@/$VERSION/g" -e "s/@RELEASE@/$RELEASE/g" \
        -e "s|@MAINTAINER@|$MAINTAINER|g" "$HERE/pg_jobmon.spec.in" >"$top/pg_jobmon.spec"
    rpmbuild --quiet -bb --define "_topdir $top" --define "_rpmdir $OUT" \
        --define "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm" \
        --define "__strip /bin/true" --define "debug_package %{nil}" \
        --define "_binary_payload w9.xzdio" \
        "$top/pg_jobmon.spec" >"$WORK/rpm-$major.log" 2>&1 \
        || { cat "$WORK/rpm-$major.log" >&2; echo "rpmbuild for PostgreSQL $major failed" >&2; exit 1; }
}

# The PGXN source distribution: the repository as committed (git archive), with META.json.
build_pgxn() {
    local name="pg_jobmon-$VERSION" dir="$WORK/pgxn"
    install -d "$dir"
    git -C "$ROOT" archive --format=tar --prefix="$name/" HEAD | tar -x -C "$dir"
    sed "s/@VERSION@/$VERSION/g" "$HERE/META.json.in" >"$dir/$name/META.json"
    python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$dir/$name/META.json"
    (cd "$dir" && zip -qr -X "$OUT/$name.zip" "$name")
}

command -v zip >/dev/null || env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends zip >/dev/null
rm -f "$OUT"/postgresql-*-jobmon_*.deb "$OUT"/pg_jobmon_*.rpm "$OUT"/pg_jobmon-*.zip
for major in "${PG_SUPPORTED_MAJORS[@]}"; do
    say "pg_jobmon $VERSION packages for PostgreSQL $major"
    stage_major "$major"
    build_deb "$major"
    build_rpm "$major"
done
say "pg_jobmon $VERSION PGXN distribution"
build_pgxn
ls -1 "$OUT" | grep -E '^(postgresql-[0-9]+-jobmon_|pg_jobmon)' >&2
