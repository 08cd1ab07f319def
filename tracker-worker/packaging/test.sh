#!/bin/bash
# Tests the packages build.sh wrote into $1:
#  - glibc floors: the packaged binary needs at most GLIBC_2.28, the source-host reader at
#    most GLIBC_2.17, and neither needs a shared library beyond libc's own;
#  - the .deb in a clean Debian 12 root (debootstrap minbase, cached as a tarball under
#    /var/tmp/jobmon-pkg-roots/): user and group, directories, `--version`, `config check`
#    of the shipped example as the service user, systemd-analyze verify of the unit, a
#    reinstall and an upgrade keep an edited configuration, purge removes it; and in a
#    Debian 11 root (glibc 2.31) it installs and the program runs;
#  - lintian: no errors, no warnings beyond the accepted ones listed below;
#  - the .rpm: file list, modes, config(noreplace), scriptlets, requirements (rpm -qp);
#  - the reader reads and acknowledges a queue over SSH: tests/tests/ssh_source.rs run
#    with JOBMON_TEST_READER set to it (a real sshd on loopback).
# Prints "N passed, M failed" last and exits non-zero on any failure.
#   bash tracker-worker/packaging/test.sh target/packages
set -uo pipefail

OUT_ARG=${1:?usage: test.sh OUTDIR}
OUT=$(cd "$OUT_ARG" && pwd) || exit 1
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$(dirname "$HERE")")
# The pristine root is made once (debootstrap, ~30-60 s) and kept here as a tarball.
CACHE=${JOBMON_PKG_ROOT_CACHE:-/var/tmp/jobmon-pkg-roots}
export PATH="$HOME/.cargo/bin:$PATH"

# lintian tags accepted on the .deb (warnings; info tags are printed, not counted):
# none at the moment. Info tags seen: hardening-no-fortify-functions (Rust code has no
# _chk functions to call; the bundled C libraries are compiled by zig cc without
# _FORTIFY_SOURCE), package-supports-alternative-init-but-no-init.d-script (the tracker
# is run by systemd only).
ACCEPTED_LINTIAN=(
)

passed=0
failed=0
failures=()
CHECK_LOG=$(mktemp)
check() { # check NAME COMMAND...: runs COMMAND in this shell, counts and reports it
    local name=$1
    shift
    "$@" >"$CHECK_LOG" 2>&1
    local rc=$?
    if [ $rc -eq 0 ]; then
        passed=$((passed + 1))
        echo "ok   $name"
    else
        failed=$((failed + 1))
        failures+=("$name")
        echo "FAIL $name"
        tail -30 "$CHECK_LOG" | sed 's/^/     /'
    fi
    return $rc
}

# The packages of this checkout's version (the folder may hold others).
VERSION=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "tracker-worker"))')
DEB=$OUT/jobmon-tracker_${VERSION}_amd64.deb
RPM=$OUT/jobmon-tracker-${VERSION}-1.x86_64.rpm
READER=$OUT/jobmon-tracker-${VERSION}-x86_64-linux-glibc2.17
for f in "$DEB" "$RPM" "$READER"; do
    [ -f "$f" ] || { echo "test.sh: $f missing; run build.sh $OUT_ARG first"; echo "0 passed, 1 failed"; exit 1; }
done

need_tools() {
    local missing=() pkg
    for pkg in debootstrap lintian rpm binutils; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' ||
            missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
}

# --- glibc floors -------------------------------------------------------------------

glibc_floor() {
    objdump -T "$1" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1
}

floor_at_most() { # floor_at_most BINARY MAX
    local floor
    floor=$(glibc_floor "$1")
    echo "highest glibc symbol version of $(basename "$1"): GLIBC_$floor (limit $2)"
    [ -n "$floor" ] && [ "$(printf '%s\n%s\n' "$floor" "$2" | sort -V | tail -1)" = "$2" ]
}

only_libc_needed() { # the NEEDED entries are glibc's own libraries (and libgcc_s)
    local needed
    needed=$(objdump -p "$1" | awk '/NEEDED/ {print $2}')
    echo "NEEDED: $(echo $needed)"
    ! grep -vxE 'libc\.so\.6|libm\.so\.6|libdl\.so\.2|libpthread\.so\.0|librt\.so\.1|ld-linux-x86-64\.so\.2|libgcc_s\.so\.1' <<<"$needed"
}

# --- the .deb in a clean Debian 12 root ---------------------------------------------

CHROOT=""
remove_root() {
    if [ -n "$CHROOT" ]; then
        if mountpoint -q "$CHROOT/proc"; then umount -l "$CHROOT/proc"; fi
        # Only a root whose proc is unmounted is deleted.
        mountpoint -q "$CHROOT/proc" || rm -rf "$CHROOT"
    fi
    CHROOT=""
}
trap 'remove_root; rm -f "$CHECK_LOG"' EXIT
trap 'exit 130' INT TERM # exit through the EXIT trap: proc is unmounted also then

pristine_root() { # pristine_root SUITE: a fresh minbase root of that Debian release
    local suite=$1 pristine=$CACHE/$1-minbase.tar.gz
    if [ ! -s "$pristine" ]; then
        local fresh
        fresh=$(mktemp -d /var/tmp/jobmon-debootstrap.XXXXXX)
        echo "debootstrap $suite (cached in $pristine afterwards)"
        if ! debootstrap --variant=minbase "$suite" "$fresh" http://deb.debian.org/debian >"$fresh.log" 2>&1; then
            tail -20 "$fresh.log"
            rm -rf "$fresh" "$fresh.log"
            return 1
        fi
        mkdir -p "$CACHE"
        tar -C "$fresh" -czf "$pristine.tmp" . && mv "$pristine.tmp" "$pristine"
        rm -rf "$fresh" "$fresh.log"
    fi
    CHROOT=$(mktemp -d /var/tmp/jobmon-pkg-root.XXXXXX)
    tar -C "$CHROOT" -xzf "$pristine"
    chmod 0755 "$CHROOT" # mktemp made it 0700: the service user must reach its files
    cp /etc/resolv.conf "$CHROOT/etc/resolv.conf"
    if compgen -G '/usr/local/share/ca-certificates/*' >/dev/null; then
        cp /usr/local/share/ca-certificates/* "$CHROOT/usr/local/share/ca-certificates/"
    fi
    # No service starts inside the root.
    printf '#!/bin/sh\nexit 101\n' >"$CHROOT/usr/sbin/policy-rc.d"
    chmod 0755 "$CHROOT/usr/sbin/policy-rc.d"
    mount -t proc proc "$CHROOT/proc"
    in_root update-ca-certificates >/dev/null 2>&1 || true
    cp "$DEB" "$CHROOT/tmp/"
}

in_root() { chroot "$CHROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "$@"; }

apt_install_deb() {
    in_root apt-get update -qq && in_root apt-get install -y -qq "/tmp/$(basename "$DEB")"
}

user_and_group() {
    local pw
    pw=$(in_root getent passwd jobmon-tracker) || return 1
    echo "$pw"
    in_root getent group jobmon-tracker || return 1
    # A system account: uid below 1000, no login shell, home in /var/lib.
    IFS=: read -r _ _ uid _ _ home shell <<<"$pw"
    [ "$uid" -lt 1000 ] && [ "$home" = /var/lib/jobmon-tracker ] && [ "$shell" = /usr/sbin/nologin ]
}

owner_mode() { in_root stat -c '%U:%G %a' "$1"; }

directories() {
    local ok=0 spec
    for spec in "/etc/jobmon-tracker root:jobmon-tracker 750" \
        "/var/lib/jobmon-tracker jobmon-tracker:jobmon-tracker 750" \
        "/var/log/jobmon-tracker jobmon-tracker:adm 2750" \
        "/usr/bin/jobmon-tracker root:root 755" \
        "/etc/jobmon-tracker/jobmon-tracker.toml root:root 644" \
        "/lib/systemd/system/jobmon-tracker.service root:root 644" \
        "/usr/share/doc/jobmon-tracker/README.md root:root 644" \
        "/usr/share/man/man1/jobmon-tracker.1.gz root:root 644" \
        "/usr/share/man/man1/jobmon-tracker-queue-read.1.gz root:root 644"; do
        set -- $spec
        local got
        got=$(owner_mode "$1")
        echo "$1: $got (expected $2 $3)"
        [ "$got" = "$2 $3" ] || ok=1
    done
    return $ok
}

version_runs() {
    local v
    v=$(in_root /usr/bin/jobmon-tracker --version) || return 1
    echo "$v"
    [ "$v" = "jobmon-tracker $VERSION" ]
}

config_check_as_user() {
    in_root runuser -u jobmon-tracker -- /usr/bin/jobmon-tracker config check \
        /etc/jobmon-tracker/jobmon-tracker.toml
}

man_page() {
    zcat "$CHROOT/usr/share/man/man1/jobmon-tracker.1.gz" | grep -q '^\.TH jobmon-tracker 1' &&
        zcat "$CHROOT/usr/share/man/man1/jobmon-tracker-queue-read.1.gz" | grep -q -- 'after'
}

unit_verifies() {
    in_root apt-get install -y -qq --no-install-recommends systemd >/dev/null || return 1
    local out rc
    out=$(in_root systemd-analyze verify /lib/systemd/system/jobmon-tracker.service 2>&1)
    rc=$?
    echo "$out"
    # verify exits 0 also on some warnings about this unit: none is accepted.
    [ $rc -eq 0 ] && ! grep -q 'jobmon-tracker.service' <<<"$out" &&
        grep -q '^ExecStart=/usr/bin/jobmon-tracker run -c /etc/jobmon-tracker/jobmon-tracker.toml$' \
            "$CHROOT/lib/systemd/system/jobmon-tracker.service"
}

reinstall_keeps_edited_config() {
    local conf=$CHROOT/etc/jobmon-tracker/jobmon-tracker.toml
    echo '# edited by the administrator' >>"$conf"
    in_root apt-get install -y -qq --reinstall "/tmp/$(basename "$DEB")" || return 1
    tail -1 "$conf" | grep -qx '# edited by the administrator' &&
        [ "$(owner_mode /etc/jobmon-tracker)" = "root:jobmon-tracker 750" ]
}

# An upgrade: the same package with a higher version, installed as the README says.
upgrade_keeps_edited_config() {
    local dir newer="jobmon-tracker_${VERSION}+upgrade_amd64.deb" uid_before
    uid_before=$(in_root id -u jobmon-tracker) || return 1
    dir=$(mktemp -d)
    dpkg-deb -R "$DEB" "$dir/pkg" &&
        sed -i "s/^Version: .*/Version: ${VERSION}+upgrade/" "$dir/pkg/DEBIAN/control" &&
        dpkg-deb --root-owner-group -Zxz --build "$dir/pkg" "$CHROOT/tmp/$newer" >/dev/null
    local rc=$?
    rm -rf "$dir"
    [ $rc -eq 0 ] || return 1
    in_root apt-get install -y -qq "/tmp/$newer" || return 1
    in_root dpkg-query -W -f='${Version}\n' jobmon-tracker | grep -qxF "${VERSION}+upgrade" &&
        tail -1 "$CHROOT/etc/jobmon-tracker/jobmon-tracker.toml" | grep -qx '# edited by the administrator' &&
        [ "$(in_root id -u jobmon-tracker)" = "$uid_before" ] &&
        [ "$(owner_mode /var/lib/jobmon-tracker)" = "jobmon-tracker:jobmon-tracker 750" ]
}

purge_removes_config() {
    in_root apt-get purge -y -qq jobmon-tracker || return 1
    local left=0 path
    for path in /etc/jobmon-tracker /var/lib/jobmon-tracker /var/log/jobmon-tracker \
        /usr/bin/jobmon-tracker /lib/systemd/system/jobmon-tracker.service; do
        if [ -e "$CHROOT$path" ]; then
            echo "left after purge: $path"
            left=1
        fi
    done
    if in_root dpkg-statoverride --list | grep jobmon-tracker; then left=1; fi
    return $left
}

# The program on an older system than the build host's: it starts, reads its
# configuration and writes, reads and acknowledges a queue file.
runs_on_older_system() {
    version_runs && config_check_as_user || return 1
    local q=/var/lib/jobmon-tracker/q.sqlite
    in_root runuser -u jobmon-tracker -- /usr/bin/jobmon-tracker queue -f "$q" add \
        --instance P --job LOAD --event STARTED &&
        in_root runuser -u jobmon-tracker -- /usr/bin/jobmon-tracker queue -f "$q" read |
        grep -q '^{"id":1,.*"job":"LOAD","event":"STARTED"' &&
        [ "$(in_root runuser -u jobmon-tracker -- /usr/bin/jobmon-tracker queue -f "$q" ack --through 1)" = 1 ]
}

# --- lintian ------------------------------------------------------------------------

lintian_clean() {
    local out tag unexpected=0
    out=$(lintian --no-cfg --display-info "$DEB" 2>&1)
    echo "$out"
    while read -r kind _ tag _; do
        case $kind in
        E:) unexpected=1 ;;
        W:)
            if ! printf '%s\n' "${ACCEPTED_LINTIAN[@]}" | grep -qx "$tag"; then
                echo "unexpected warning: $tag"
                unexpected=1
            fi
            ;;
        esac
    done <<<"$out"
    return $unexpected
}

# --- the .rpm -----------------------------------------------------------------------

rpm_files() {
    local list expected=0 f
    list=$(rpm -qp --qf '[%{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILEFLAGS:fflags} %{FILENAMES}\n]' "$RPM") || return 1
    echo "$list"
    for f in '-rwxr-xr-x root:root  /usr/bin/jobmon-tracker' \
        '-rw-r--r-- root:root  /usr/lib/systemd/system/jobmon-tracker.service' \
        'drwxr-x--- root:jobmon-tracker  /etc/jobmon-tracker' \
        '-rw-r--r-- root:root cn /etc/jobmon-tracker/jobmon-tracker.toml' \
        'drwxr-x--- jobmon-tracker:jobmon-tracker  /var/lib/jobmon-tracker' \
        'drwxr-s--- jobmon-tracker:jobmon-tracker  /var/log/jobmon-tracker' \
        '-rw-r--r-- root:root d /usr/share/doc/jobmon-tracker/README.md' \
        '-rw-r--r-- root:root dl /usr/share/doc/jobmon-tracker/copyright' \
        '-rw-r--r-- root:root d /usr/share/man/man1/jobmon-tracker.1.gz'; do
        grep -qxF -e "$f" <<<"$list" || { echo "missing: $f"; expected=1; }
    done
    [ "$(rpm -qlp "$RPM" | wc -l)" = "$(wc -l <<<"$list")" ] || expected=1
    return $expected
}

rpm_scripts() {
    local s
    s=$(rpm -qp --scripts "$RPM") || return 1
    echo "$s"
    grep -q 'groupadd -r jobmon-tracker' <<<"$s" &&
        grep -q 'useradd -r -g jobmon-tracker -d /var/lib/jobmon-tracker -s /sbin/nologin' <<<"$s" &&
        grep -q 'systemctl --no-reload disable --now jobmon-tracker.service' <<<"$s" &&
        grep -q 'systemctl try-restart jobmon-tracker.service' <<<"$s"
}

rpm_requires() {
    local r bad=0
    r=$(rpm -qpR "$RPM") || return 1
    echo "$r"
    # Only libc (and its symbol versions, all <= 2.28), systemd and shadow-utils.
    grep -q '^libc\.so\.6(GLIBC_2\.[0-9]*)(64bit)$' <<<"$r" || bad=1
    if grep -vE '^(libc\.so\.6|libm\.so\.6|libdl\.so\.2|libpthread\.so\.0|librt\.so\.1|libgcc_s\.so\.1|ld-linux-x86-64\.so\.2)(\(|$)|^(systemd|shadow-utils|util-linux|/bin/sh|rtld\(GNU_HASH\))$|^rpmlib\(|^config\(jobmon-tracker\) = ' <<<"$r"; then
        echo "unexpected requirement above"
        bad=1
    fi
    local v
    for v in $(grep -o 'GLIBC_2\.[0-9]*' <<<"$r" | sed 's/GLIBC_//' | sort -uV); do
        [ "$(printf '%s\n2.28\n' "$v" | sort -V | tail -1)" = 2.28 ] || { echo "needs GLIBC_$v"; bad=1; }
    done
    return $bad
}

rpm_metadata() {
    rpm -qip "$RPM" && [ "$(rpm -qp --qf '%{NAME} %{VERSION} %{ARCH} %{LICENSE}' "$RPM")" = "jobmon-tracker $VERSION x86_64 PostgreSQL" ]
}

# --- the reader over SSH ------------------------------------------------------------

ssh_tests_with_reader() {
    local out
    out=$(cd "$ROOT" && JOBMON_TEST_READER=$READER cargo test --locked -p jobmon-tests --test ssh_source 2>&1)
    local rc=$?
    grep -E '^test result|FAILED|panicked' <<<"$out"
    [ $rc -eq 0 ] && grep -q '^test result: ok\. [1-9]' <<<"$out"
}

started=$(date +%s)
need_tools >/dev/null

WORKBIN=$(mktemp -d)
dpkg-deb -x "$DEB" "$WORKBIN"
check "packaged binary: glibc symbols <= 2.28" floor_at_most "$WORKBIN/usr/bin/jobmon-tracker" 2.28
check "packaged binary: no shared library beyond libc" only_libc_needed "$WORKBIN/usr/bin/jobmon-tracker"
rm -rf "$WORKBIN"
check "source-host reader: glibc symbols <= 2.17" floor_at_most "$READER" 2.17
check "source-host reader: no shared library beyond libc" only_libc_needed "$READER"
check "checksums match jobmon-tracker-$VERSION.sha256sums" bash -c "cd '$OUT' && sha256sum --quiet -c 'jobmon-tracker-$VERSION.sha256sums'"

if check "clean Debian 12 root (debootstrap minbase)" pristine_root bookworm; then
    check "deb: apt install ./jobmon-tracker_${VERSION}_amd64.deb" apt_install_deb
    check "deb: system user and group jobmon-tracker" user_and_group
    check "deb: files and directories, owners and modes" directories
    check "deb: jobmon-tracker --version" version_runs
    check "deb: config check of the shipped example, as the service user" config_check_as_user
    check "deb: man pages" man_page
    check "deb: systemd-analyze verify jobmon-tracker.service" unit_verifies
    check "deb: reinstall keeps an edited configuration" reinstall_keeps_edited_config
    check "deb: upgrade to a newer version keeps the edited configuration and the user" upgrade_keeps_edited_config
    check "deb: purge removes configuration, state and log directories" purge_removes_config
fi
remove_root

if check "clean Debian 11 root (debootstrap minbase)" pristine_root bullseye; then
    check "deb on Debian 11 (glibc 2.31): apt install" apt_install_deb
    check "deb on Debian 11: --version, config check, queue add/read/ack" runs_on_older_system
fi
remove_root

check "deb: lintian, no errors and no unaccepted warnings" lintian_clean
check "rpm: metadata (rpm -qip)" rpm_metadata
check "rpm: file list, modes, config(noreplace) (rpm -qlp)" rpm_files
check "rpm: scriptlets create the user, stop and restart the unit (rpm -qp --scripts)" rpm_scripts
check "rpm: requirements are libc <= 2.28, systemd, shadow-utils, util-linux (rpm -qpR)" rpm_requires
check "reader: SSH tests read and acknowledge queues with it (ssh_source.rs)" ssh_tests_with_reader

echo "test.sh took $(($(date +%s) - started)) s"
if [ $failed -gt 0 ]; then
    printf 'failed: %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
