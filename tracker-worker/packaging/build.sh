#!/bin/bash
# Builds jobmon-tracker's packages into the directory given as $1:
#   jobmon-tracker_<version>_amd64.deb        (dpkg-deb)
#   jobmon-tracker-<version>-1.x86_64.rpm     (rpmbuild, from Debian's rpm package)
#   jobmon-tracker-<version>-x86_64-linux-glibc2.17   the same binary as a plain file, to
#                                             copy to source hosts as the queue reader
#   jobmon-tracker-<version>.sha256sums   their checksums (the folder is shared with the
#                                             extension's packages)
# The binary is built once, by cargo-zigbuild against glibc 2.17 (RHEL/Oracle Linux 7),
# with OpenSSL, libssh2, SQLite and zlib linked in: it runs on Debian 11+, Ubuntu 20.04+,
# RHEL 7+ and needs only libc. Installs what it needs (apt packages, ziglang from PyPI,
# cargo-zigbuild from crates.io), pinned below. Run from anywhere in a checkout:
#   bash tracker-worker/packaging/build.sh target/packages
set -euo pipefail

OUT_ARG=${1:?usage: build.sh OUTDIR}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CRATE=$(dirname "$HERE")
ROOT=$(dirname "$CRATE")
mkdir -p "$OUT_ARG"
OUT=$(cd "$OUT_ARG" && pwd)

ZIG_VERSION=0.15.2          # PyPI ziglang
ZIGBUILD_VERSION=0.24.1     # crates.io cargo-zigbuild
GLIBC=2.17                  # the oldest glibc the binary runs on
TRIPLE=x86_64-unknown-linux-gnu
MAINTAINER=${JOBMON_PKG_MAINTAINER:-pg_jobmon maintainers <pg-jobmon@users.noreply.github.com>}
export PATH="$HOME/.cargo/bin:$PATH"

say() { printf '== %s\n' "$*"; }

install_tools() {
    local missing=() pkg
    for pkg in rpm binutils; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' ||
            missing+=("$pkg")
    done
    python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
    if [ ${#missing[@]} -gt 0 ]; then
        say "apt-get install ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${missing[@]}"
    fi
    if [ "$(python3 -m ziglang version 2>/dev/null)" != "$ZIG_VERSION" ]; then
        say "pip install ziglang==$ZIG_VERSION"
        python3 -m pip install --quiet "ziglang==$ZIG_VERSION" ||
            python3 -m pip install --quiet --break-system-packages "ziglang==$ZIG_VERSION"
    fi
    if [ "$(cargo-zigbuild --version 2>/dev/null)" != "cargo-zigbuild $ZIGBUILD_VERSION" ]; then
        say "cargo install cargo-zigbuild@$ZIGBUILD_VERSION"
        cargo install --locked --quiet "cargo-zigbuild@$ZIGBUILD_VERSION"
    fi
}

# The highest GLIBC_x.y symbol version a binary needs (objdump -T), e.g. "2.17".
glibc_floor() {
    objdump -T "$1" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1
}

build_binary() {
    say "cargo zigbuild --release --target $TRIPLE.$GLIBC"
    cd "$ROOT"
    # LIBZ_SYS_STATIC: zlib built in rather than found by pkg-config (a same-triple build
    # is not seen as a cross build). vendored-openssl: no libssl.so.3 dependency.
    LIBZ_SYS_STATIC=1 cargo zigbuild --locked --release -p tracker-worker \
        --features vendored-openssl --target "$TRIPLE.$GLIBC" \
        --bin jobmon-tracker --example manpage
    local target_dir
    target_dir=$(cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
    BUILT="$target_dir/$TRIPLE/release"
    BIN="$WORK/jobmon-tracker"
    cp "$BUILT/jobmon-tracker" "$BIN"
    strip --strip-unneeded --remove-section=.comment "$BIN"
    local floor
    floor=$(glibc_floor "$BIN")
    if [ "$(printf '%s\n%s\n' "$floor" "$GLIBC" | sort -V | tail -1)" != "$GLIBC" ]; then
        echo "build.sh: jobmon-tracker needs GLIBC_$floor, above $GLIBC" >&2
        exit 1
    fi
    local needed
    needed=$(objdump -p "$BIN" | awk '/NEEDED/ {print $2}' | sort | tr '\n' ' ')
    say "jobmon-tracker: highest glibc symbol GLIBC_$floor; NEEDED: $needed"
    VERSION=$("$BIN" --version | awk '{print $2}')
    [ -n "$VERSION" ] || { echo "build.sh: no version from --version" >&2; exit 1; }
}

# The files both packages carry, under $1 (a root); $2 is the unit directory.
stage_files() {
    local root=$1 unitdir=$2
    install -D -m 0755 "$BIN" "$root/usr/bin/jobmon-tracker"
    install -d -m 0755 "$root$unitdir"
    # The shipped unit installs to /usr/local/bin by hand; the package's binary is in
    # /usr/bin, and the manual install steps in the unit's header do not apply.
    {
        echo "# jobmon-tracker's systemd unit, installed by the jobmon-tracker package."
        echo "# Change settings with \`systemctl edit jobmon-tracker\`, not in this file."
        sed -n '/^\[Unit\]/,$p' "$CRATE/systemd/jobmon-tracker.service" |
            sed 's|^ExecStart=/usr/local/bin/jobmon-tracker |ExecStart=/usr/bin/jobmon-tracker |'
    } >"$root$unitdir/jobmon-tracker.service"
    chmod 0644 "$root$unitdir/jobmon-tracker.service"
    grep -q '^ExecStart=/usr/bin/jobmon-tracker run ' "$root$unitdir/jobmon-tracker.service" ||
        { echo "build.sh: the unit's ExecStart was not rewritten to /usr/bin" >&2; exit 1; }
    install -D -m 0644 "$CRATE/examples/jobmon-tracker.toml" \
        "$root/etc/jobmon-tracker/jobmon-tracker.toml"
    install -d -m 0755 "$root/var/lib/jobmon-tracker" "$root/var/log/jobmon-tracker"
    install -D -m 0644 "$ROOT/README.md" "$root/usr/share/doc/jobmon-tracker/README.md"
    install -D -m 0644 "$HERE/copyright" "$root/usr/share/doc/jobmon-tracker/copyright"
    install -d -m 0755 "$root/usr/share/man/man1"
    cp "$WORK"/man/*.1 "$root/usr/share/man/man1/"
    chmod 0644 "$root"/usr/share/man/man1/*.1
    gzip -9n "$root"/usr/share/man/man1/*.1
}

man_pages() {
    say "man pages (clap_mangen)"
    "$BUILT/examples/manpage" "$WORK/man"
    [ -s "$WORK/man/jobmon-tracker.1" ] || { echo "build.sh: no man page" >&2; exit 1; }
}

build_deb() {
    local root="$WORK/deb" deb="$OUT/jobmon-tracker_${VERSION}_amd64.deb"
    say "$(basename "$deb")"
    stage_files "$root" /lib/systemd/system
    # A native package: its changelog is changelog.gz.
    printf 'jobmon-tracker (%s) unstable; urgency=medium\n\n  * Release %s; see README.md.\n\n -- %s  %s\n' \
        "$VERSION" "$VERSION" "$MAINTAINER" "$(date -R -d @"${SOURCE_DATE_EPOCH:-$(git -C "$ROOT" log -1 --format=%ct)}")" |
        gzip -9n >"$root/usr/share/doc/jobmon-tracker/changelog.gz"
    install -d -m 0755 "$root/DEBIAN"
    local script
    for script in postinst prerm postrm; do
        install -m 0755 "$HERE/deb/$script" "$root/DEBIAN/$script"
    done
    echo /etc/jobmon-tracker/jobmon-tracker.toml >"$root/DEBIAN/conffiles"
    (cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' |
        sort -z | xargs -0 md5sum >DEBIAN/md5sums)
    # adduser: postinst creates the user; procps: /bin/kill, the unit's ExecReload.
    cat >"$root/DEBIAN/control" <<EOF
Package: jobmon-tracker
Version: $VERSION
Architecture: amd64
Maintainer: $MAINTAINER
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Depends: libc6 (>= $GLIBC), adduser, procps
Section: admin
Priority: optional
Description: job status queues into pg_jobmon, with timing rules and alerts
 jobmon-tracker watches batch jobs that run outside the database: it reads
 the status messages jobs write into SQLite queue files (locally or over
 SSH), stores them in pg_jobmon and reports whether each job ran, ran on time
 and succeeded (Checkmk local checks, state and spool files, Event Console,
 Prometheus, a Nagios plugin). The package installs a systemd unit, a system
 user and an example configuration in /etc/jobmon-tracker.
EOF
    rm -f "$deb"
    dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
}

build_rpm() {
    local root="$WORK/rpm-stage" top="$WORK/rpmbuild"
    say "jobmon-tracker-$VERSION-1.x86_64.rpm"
    stage_files "$root" /usr/lib/systemd/system
    mkdir -p "$top"
    rpmbuild --quiet -bb --target x86_64 \
        --define "_topdir $top" --define "version $VERSION" --define "release 1" \
        --define "stage $root" "$HERE/rpm/jobmon-tracker.spec"
    cp "$top"/RPMS/x86_64/jobmon-tracker-"$VERSION"-1.x86_64.rpm "$OUT/"
}

reader_file() {
    say "jobmon-tracker-$VERSION-x86_64-linux-glibc$GLIBC (the source-host reader)"
    install -m 0755 "$BIN" "$OUT/jobmon-tracker-$VERSION-x86_64-linux-glibc$GLIBC"
}

started=$(date +%s)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/jobmon-tracker-pkg.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
install_tools
build_binary
man_pages
build_deb
build_rpm
reader_file
(cd "$OUT" && sha256sum jobmon-tracker_"$VERSION"_amd64.deb \
    jobmon-tracker-"$VERSION"-1.x86_64.rpm \
    jobmon-tracker-"$VERSION"-x86_64-linux-glibc"$GLIBC" >jobmon-tracker-"$VERSION".sha256sums)
say "done in $(($(date +%s) - started)) s: $OUT"
ls -l "$OUT"
