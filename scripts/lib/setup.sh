# shellcheck shell=bash
# Shared set-up for scripts/demo and scripts/test (sourced, never executed).
#
#   1. cd to the project root;
#   2. make sure .venv exists and holds the project installed editable with the
#      dev extras (re-installed only when pyproject.toml changes);
#   3. choose a PostgreSQL/PostGIS database and export DATABASE_URL:
#        a) DATABASE_URL already set          -> used as is;
#        b) a Docker engine answers           -> `docker compose up -d --wait db`;
#        c) otherwise                         -> a project-local cluster in
#           .local/postgres (installing PostgreSQL/PostGIS with apt when root).
#
# Knobs (environment):
#   SCLZONAL_NO_DOCKER=1   skip b) even when Docker is available.
#   SCLZONAL_PYTHON=...    interpreter used to create .venv (default: python3).
#
# Safe to source again and again; the second run takes a few seconds.
# With SCLZONAL_SETUP_FUNCTIONS_ONLY=1 it only cds to the root and defines the
# functions (used by scripts/stop-local-db).

set -euo pipefail

SCLZONAL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
cd "$SCLZONAL_ROOT"

sclz_log() { printf '[sclzonal] %s\n' "$*" >&2; }
sclz_die() { printf '[sclzonal] ERROR: %s\n' "$*" >&2; exit 1; }

sclz_is_root() { [ "$(id -u)" -eq 0 ]; }
sclz_is_debian() { [ -f /etc/debian_version ] && command -v apt-get >/dev/null 2>&1; }

# apt-get that waits for a lock held by another apt/dpkg instead of failing.
sclz_apt() {
  DEBIAN_FRONTEND=noninteractive apt-get -q \
    -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3 "$@" >&2
}

# --------------------------------------------------------------------------
# Serialise concurrent runs (scripts/test and scripts/demo at the same time).
# The lock fd is closed again at the end and never handed to the postmaster.
# --------------------------------------------------------------------------
sclz_lock() {
  mkdir -p "$SCLZONAL_ROOT/.local"
  chmod 0755 "$SCLZONAL_ROOT/.local" 2>/dev/null || true
  exec {SCLZ_LOCK_FD}>"$SCLZONAL_ROOT/.local/setup.lock"
  if ! flock -n "$SCLZ_LOCK_FD"; then
    sclz_log "another set-up is running in this project; waiting for it"
    flock "$SCLZ_LOCK_FD"
  fi
}
sclz_unlock() {
  if [ -n "${SCLZ_LOCK_FD:-}" ]; then
    exec {SCLZ_LOCK_FD}>&-
    unset SCLZ_LOCK_FD
  fi
}

# --------------------------------------------------------------------------
# Python virtualenv
# --------------------------------------------------------------------------
sclz_venv() {
  local venv="$SCLZONAL_ROOT/.venv" py="${SCLZONAL_PYTHON:-python3}"
  local stamp="$venv/.sclzonal-pyproject.sha256" want have

  [ -f pyproject.toml ] || sclz_die "pyproject.toml not found in $SCLZONAL_ROOT"

  if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import pip' >/dev/null 2>&1; then
    :
  else
    command -v "$py" >/dev/null 2>&1 ||
      sclz_die "$py not found: install Python 3.11+ (Debian: apt-get install python3 python3-venv)"
    sclz_log "creating virtualenv .venv with $("$py" -c 'import sys; print(sys.executable, sys.version.split()[0])')"
    rm -f "$stamp"
    if ! "$py" -m venv --clear "$venv" >/dev/null 2>&1; then
      # Debian/Ubuntu ship venv/ensurepip in a separate package.
      if sclz_is_root && sclz_is_debian; then
        sclz_log "installing python3-venv with apt"
        sclz_apt update
        sclz_apt install -y python3-venv
        "$py" -m venv --clear "$venv" >&2
      else
        sclz_die "'$py -m venv' failed: install the venv module (Debian/Ubuntu: sudo apt-get install python3-venv)"
      fi
    fi
  fi

  want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
  have="$(cat "$stamp" 2>/dev/null || true)"
  if [ "$want" != "$have" ]; then
    sclz_log "installing the project into .venv (pip install -e '.[dev]'; the first time takes a few minutes)"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -e '.[dev]' >&2
    printf '%s\n' "$want" >"$stamp"
  fi
  case ":$PATH:" in
    *":$venv/bin:"*) ;;
    *) PATH="$venv/bin:$PATH" ;;
  esac
  export PATH
}

# --------------------------------------------------------------------------
# b) Docker Compose
# --------------------------------------------------------------------------
# Value of KEY in .env (KEY=VALUE lines, optional quotes, # comments).
sclz_env_get() {
  local key="$1" default="${2:-}" line val=""
  if [ -f .env ]; then
    line="$(grep -E "^[[:space:]]*(export[[:space:]]+)?${key}=" .env | tail -n 1 || true)"
    if [ -n "$line" ]; then
      val="${line#*=}"
      val="${val%$'\r'}"
      case "$val" in
        \"*\") val="${val#\"}"; val="${val%\"}" ;;
        \'*\') val="${val#\'}"; val="${val%\'}" ;;
      esac
    fi
  fi
  printf '%s' "${val:-$default}"
}

# postgresql://user:password@host:port/db with user, password and db %-encoded.
sclz_url() {
  "$SCLZONAL_ROOT/.venv/bin/python" - "$@" <<'EOF'
import sys
from urllib.parse import quote
user, password, host, port, db = sys.argv[1:]
auth = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
print(f"postgresql://{auth}@{host}:{port}/{quote(db, safe='')}")
EOF
}

sclz_compose() {
  if docker compose version >/dev/null 2>&1; then
    docker compose "$@"
  else
    docker-compose "$@"
  fi
}

sclz_docker_db() {
  local user password db port
  if [ ! -f .env ]; then
    cp .env.example .env
    sclz_log "created .env from .env.example"
  fi
  sclz_log "starting the PostGIS container (docker compose up -d --wait db)"
  sclz_compose up -d --wait db >&2 ||
    sclz_die "docker compose could not start the db service (see: docker compose logs db)"
  user="$(sclz_env_get POSTGRES_USER sclzonal)"
  password="$(sclz_env_get POSTGRES_PASSWORD)"
  db="$(sclz_env_get POSTGRES_DB "$user")"
  port="$(sclz_env_get SCLZONAL_DB_PORT 5433)"
  DATABASE_URL="$(sclz_url "$user" "$password" 127.0.0.1 "$port" "$db")"
  export DATABASE_URL
}

# --------------------------------------------------------------------------
# c) project-local PostgreSQL cluster
# --------------------------------------------------------------------------
SCLZ_PG_DBNAME=sclzonal
SCLZ_PG_FIRST_PORT=55432

# Newest installed server version under /usr/lib/postgresql, or nothing.
sclz_pg_newest() {
  local d v best=""
  for d in /usr/lib/postgresql/*/bin/postgres; do
    [ -x "$d" ] || continue
    v="${d#/usr/lib/postgresql/}"
    v="${v%%/*}"
    best="$(printf '%s\n%s\n' "$best" "$v" | sed '/^$/d' | sort -V | tail -n 1)"
  done
  printf '%s' "$best"
}

sclz_pg_has_postgis() {
  local ext="/usr/share/postgresql/$1/extension"
  [ -f "$ext/postgis.control" ] && [ -f "$ext/postgis_raster.control" ]
}

# Server version the Debian/Ubuntu "postgresql" metapackage installs (e.g. 15).
sclz_pg_meta_version() {
  command -v apt-cache >/dev/null 2>&1 || return 0
  apt-cache depends postgresql 2>/dev/null |
    sed -n 's/^ *Depends: postgresql-\([0-9][0-9.]*\)$/\1/p' | sort -V | tail -n 1
}

# Make sure a PostgreSQL server with PostGIS is installed; sets SCLZ_PG_VER.
sclz_pg_ensure_installed() {
  local ver pkgs
  ver="$(sclz_pg_newest)"
  if [ -n "$ver" ] && sclz_pg_has_postgis "$ver"; then
    SCLZ_PG_VER="$ver"
    return 0
  fi
  if ! { sclz_is_root && sclz_is_debian; }; then
    if [ -n "$ver" ]; then
      sclz_die "PostGIS for PostgreSQL $ver is missing: install it (Debian/Ubuntu: sudo apt-get install postgresql-$ver-postgis-3 postgis), or start Docker, or set DATABASE_URL"
    else
      ver="$(sclz_pg_meta_version)"
      sclz_die "no PostgreSQL server found: install one with PostGIS (Debian/Ubuntu: sudo apt-get install postgresql postgresql-${ver:-<version>}-postgis-3 postgis), or start Docker, or set DATABASE_URL"
    fi
  fi
  sclz_log "installing PostgreSQL/PostGIS with apt (one time)"
  sclz_apt update
  if [ -n "$ver" ]; then
    pkgs=("postgresql-$ver-postgis-3" postgis)
  else
    ver="$(sclz_pg_meta_version)"
    [ -n "$ver" ] || sclz_die "apt knows no 'postgresql' package; install PostgreSQL with PostGIS by hand or set DATABASE_URL"
    pkgs=(postgresql "postgresql-$ver-postgis-3" postgis)
  fi
  sclz_apt install -y --no-install-recommends "${pkgs[@]}"
  if [ ! -x "/usr/lib/postgresql/$ver/bin/postgres" ] || ! sclz_pg_has_postgis "$ver"; then
    sclz_die "apt installed ${pkgs[*]} but /usr/lib/postgresql/$ver/bin/postgres or the PostGIS extension files are still missing"
  fi
  SCLZ_PG_VER="$ver"
}

# Where the cluster lives. Normally .local/postgres in the project; when we are
# root and the postgres user cannot reach the project (e.g. a clone under
# /root, mode 700), a folder under /var/tmp named after the project path.
sclz_pg_paths() {
  SCLZ_PG_BASE="$SCLZONAL_ROOT/.local/postgres"
  if sclz_is_root && ! sclz_pg_reachable "$SCLZONAL_ROOT"; then
    SCLZ_PG_BASE="/var/tmp/sclzonal-postgres-$(printf '%s' "$SCLZONAL_ROOT" | sha256sum | cut -c1-12)"
  fi
  SCLZ_PG_DATA="$SCLZ_PG_BASE/data"
  SCLZ_PG_RUN="$SCLZ_PG_BASE/run"
  SCLZ_PG_LOG="$SCLZ_PG_BASE/server.log"
  SCLZ_PG_PORTFILE="$SCLZ_PG_BASE/port"
}

# Can the postgres system user traverse every folder of path $1?
sclz_pg_reachable() {
  id -u postgres >/dev/null 2>&1 || return 0 # no such user: nothing to check yet
  runuser -u postgres -- test -x "$1" 2>/dev/null
}

# First folder on the way to $1 that the postgres user cannot traverse.
sclz_pg_blocker() {
  local p="" part rest="${1#/}"
  while [ -n "$rest" ]; do
    part="${rest%%/*}"
    [ "$part" = "$rest" ] && rest="" || rest="${rest#*/}"
    p="$p/$part"
    if ! runuser -u postgres -- test -x "$p" 2>/dev/null; then
      printf '%s' "$p"
      return 0
    fi
  done
}

# Run a command as the cluster's owner (postgres when we are root), from /.
sclz_as_pg() {
  if sclz_is_root; then
    (cd / && runuser -u postgres -- "$@")
  else
    (cd / && "$@")
  fi
}

# Run a PostgreSQL server program (initdb, pg_ctl) as the cluster's owner.
sclz_pg_run() {
  local bin="$1"
  shift
  sclz_as_pg "$SCLZ_PG_BIN/$bin" "$@"
}

sclz_port_free() {
  "${SCLZONAL_PYTHON_ANY:-python3}" - "$1" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()
EOF
}

sclz_pick_port() {
  local p=$SCLZ_PG_FIRST_PORT
  while [ "$p" -lt $((SCLZ_PG_FIRST_PORT + 200)) ]; do
    if sclz_port_free "$p"; then
      printf '%s' "$p"
      return 0
    fi
    p=$((p + 1))
  done
  sclz_die "no free TCP port on 127.0.0.1 in $SCLZ_PG_FIRST_PORT-$((p - 1))"
}

# 0 if our cluster is running. Removes a stale postmaster.pid (left by a crash
# or a machine restart, possibly naming a PID that now belongs to another
# process) so that the next start works.
sclz_pg_running() {
  local pidfile="$SCLZ_PG_DATA/postmaster.pid" pid cmd
  [ -f "$SCLZ_PG_DATA/PG_VERSION" ] || return 1
  if sclz_pg_run pg_ctl status -D "$SCLZ_PG_DATA" >/dev/null 2>&1; then
    pid="$(head -n 1 "$pidfile" 2>/dev/null || true)"
    if [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ]; then
      cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
      case "$cmd" in
        *postgres*"$SCLZ_PG_DATA"*) return 0 ;;
        "") return 0 ;; # cannot tell (e.g. hidepid): trust pg_ctl
        *) sclz_log "removing stale postmaster.pid (PID $pid is now: ${cmd%% *})" ;;
      esac
    else
      return 0
    fi
  fi
  if [ -f "$pidfile" ]; then
    rm -f "$pidfile" "$SCLZ_PG_RUN"/.s.PGSQL.*
  fi
  return 1
}

sclz_local_db() {
  local port blocker locale="C.UTF-8"
  sclz_pg_ensure_installed
  SCLZ_PG_BIN="/usr/lib/postgresql/$SCLZ_PG_VER/bin"
  sclz_pg_paths

  if sclz_is_root; then
    id -u postgres >/dev/null 2>&1 ||
      sclz_die "there is no 'postgres' system user to run the local cluster as (reinstall the postgresql package)"
    if [ "$SCLZ_PG_BASE" != "$SCLZONAL_ROOT/.local/postgres" ]; then
      blocker="$(sclz_pg_blocker "$SCLZONAL_ROOT")"
      sclz_log "the postgres user cannot enter ${blocker:-$SCLZONAL_ROOT}, so the local cluster lives in $SCLZ_PG_BASE (chmod o+x ${blocker:-that folder} to keep it in .local/postgres)"
    fi
  fi

  if [ ! -d "$SCLZ_PG_BASE" ]; then
    mkdir -p "$SCLZ_PG_BASE"
    chmod 0755 "$SCLZ_PG_BASE"
  fi
  mkdir -p "$SCLZ_PG_RUN"
  touch "$SCLZ_PG_LOG"
  if sclz_is_root; then
    chown postgres: "$SCLZ_PG_BASE" "$SCLZ_PG_RUN" "$SCLZ_PG_LOG"
    runuser -u postgres -- test -w "$SCLZ_PG_BASE" 2>/dev/null ||
      sclz_die "the postgres user cannot write to $SCLZ_PG_BASE (blocked at $(sclz_pg_blocker "$SCLZ_PG_BASE")): chmod o+x the folders on the way, or set DATABASE_URL"
  fi

  if [ -f "$SCLZ_PG_DATA/PG_VERSION" ] && [ "$(cat "$SCLZ_PG_DATA/PG_VERSION")" != "$SCLZ_PG_VER" ]; then
    SCLZ_PG_VER="$(cat "$SCLZ_PG_DATA/PG_VERSION")"
    SCLZ_PG_BIN="/usr/lib/postgresql/$SCLZ_PG_VER/bin"
    if [ ! -x "$SCLZ_PG_BIN/postgres" ] || ! sclz_pg_has_postgis "$SCLZ_PG_VER"; then
      sclz_die "$SCLZ_PG_DATA was made by PostgreSQL $SCLZ_PG_VER, whose server or PostGIS is no longer installed: run scripts/stop-local-db and delete $SCLZ_PG_BASE to start afresh"
    fi
  fi

  if [ ! -f "$SCLZ_PG_DATA/PG_VERSION" ]; then
    sclz_log "creating a local PostgreSQL $SCLZ_PG_VER cluster in $SCLZ_PG_DATA"
    rm -rf "$SCLZ_PG_DATA"
    locale -a 2>/dev/null | grep -ixE 'c\.utf-?8' >/dev/null || locale=C
    sclz_pg_run initdb -D "$SCLZ_PG_DATA" --auth=trust --username=postgres \
      --encoding=UTF8 --locale="$locale" >"$SCLZ_PG_BASE/initdb.log" 2>&1 ||
      sclz_die "initdb failed, see $SCLZ_PG_BASE/initdb.log"
  fi
  if ! grep -qxF "include_if_exists = 'sclzonal.conf'" "$SCLZ_PG_DATA/postgresql.conf"; then
    printf "\n# sclzonal: port, sockets and listen address (written by scripts/lib/setup.sh)\ninclude_if_exists = 'sclzonal.conf'\n" |
      sclz_as_pg tee -a "$SCLZ_PG_DATA/postgresql.conf" >/dev/null
  fi

  port="$(cat "$SCLZ_PG_PORTFILE" 2>/dev/null || true)"
  if sclz_pg_running; then
    [ -n "$port" ] || sclz_die "the local cluster runs but $SCLZ_PG_PORTFILE is missing: run scripts/stop-local-db and try again"
  else
    if [ -z "$port" ] || ! sclz_port_free "$port"; then
      [ -z "$port" ] || sclz_log "port $port is taken by another program; picking another one"
      port="$(sclz_pick_port)"
      printf '%s\n' "$port" >"$SCLZ_PG_PORTFILE"
    fi
    printf "listen_addresses = '127.0.0.1'\nport = %s\nunix_socket_directories = '%s'\n" "$port" "$SCLZ_PG_RUN" |
      sclz_as_pg tee "$SCLZ_PG_DATA/sclzonal.conf" >/dev/null
    sclz_log "starting the local PostgreSQL $SCLZ_PG_VER cluster on 127.0.0.1:$port (log: $SCLZ_PG_LOG)"
    sclz_pg_run pg_ctl -D "$SCLZ_PG_DATA" -l "$SCLZ_PG_LOG" -w -t 120 start >/dev/null 2>&1 {SCLZ_LOCK_FD}>&- ||
      sclz_die "the local cluster did not start; last lines of $SCLZ_PG_LOG: $(tail -n 5 "$SCLZ_PG_LOG" | tr '\n' ' ')"
  fi

  if [ -z "$("$SCLZ_PG_BIN/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -tA \
    -c "SELECT 1 FROM pg_database WHERE datname = '$SCLZ_PG_DBNAME'")" ]; then
    sclz_log "creating database $SCLZ_PG_DBNAME"
    "$SCLZ_PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U postgres "$SCLZ_PG_DBNAME"
  fi
  DATABASE_URL="postgresql://postgres@127.0.0.1:$port/$SCLZ_PG_DBNAME"
  export DATABASE_URL
}

# Stop the project-local cluster if it runs (used by scripts/stop-local-db).
sclz_local_stop() {
  local ver
  sclz_pg_paths
  if [ ! -f "$SCLZ_PG_DATA/PG_VERSION" ]; then
    sclz_log "no local cluster in $SCLZ_PG_DATA"
    return 0
  fi
  ver="$(cat "$SCLZ_PG_DATA/PG_VERSION")"
  SCLZ_PG_BIN="/usr/lib/postgresql/$ver/bin"
  [ -x "$SCLZ_PG_BIN/pg_ctl" ] || sclz_die "PostgreSQL $ver (needed for $SCLZ_PG_DATA) is not installed"
  if sclz_pg_running; then
    sclz_log "stopping the local cluster in $SCLZ_PG_DATA"
    sclz_pg_run pg_ctl -D "$SCLZ_PG_DATA" -m fast -w stop >/dev/null
  else
    sclz_log "the local cluster in $SCLZ_PG_DATA is not running"
  fi
}

# --------------------------------------------------------------------------
# QGIS for the QGIS tests (called by scripts/test only): Debian's qgis and
# python3-qgis, whose bindings run under /usr/bin/python3, and xvfb for the
# tests that run the QGIS desktop. Installed with apt when missing and we are
# root on Debian/Ubuntu; otherwise those tests skip.
# --------------------------------------------------------------------------
sclz_qgis_ensure() {
  if /usr/bin/python3 -c 'import qgis.core' >/dev/null 2>&1 && command -v xvfb-run >/dev/null 2>&1; then
    return 0
  fi
  if ! { sclz_is_root && sclz_is_debian; }; then
    sclz_log "QGIS's Python bindings or xvfb-run are missing (sudo apt-get install qgis python3-qgis xvfb): those QGIS tests will be skipped"
    return 0
  fi
  sclz_log "installing QGIS with apt for the QGIS tests (one time; qgis python3-qgis qgis-providers xvfb xauth)"
  if sclz_apt update && sclz_apt install -y --no-install-recommends qgis python3-qgis qgis-providers xvfb xauth &&
    /usr/bin/python3 -c 'import qgis.core' >/dev/null 2>&1; then
    return 0
  fi
  sclz_log "could not install QGIS with apt: the QGIS tests will be skipped"
}

# --------------------------------------------------------------------------
sclz_setup_main() {
  local t0=$SECONDS
  sclz_lock
  sclz_venv
  SCLZONAL_PYTHON_ANY="$SCLZONAL_ROOT/.venv/bin/python"
  if [ -n "${DATABASE_URL:-}" ]; then
    sclz_log "database: DATABASE_URL from the environment"
  elif [ -z "${SCLZONAL_NO_DOCKER:-}" ] && command -v docker >/dev/null 2>&1 &&
    timeout 20 docker info >/dev/null 2>&1 &&
    { docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1; }; then
    sclz_docker_db
    sclz_log "database: Docker service db ($(sclz_env_get POSTGRES_DB sclzonal) on 127.0.0.1:$(sclz_env_get SCLZONAL_DB_PORT 5433))"
  else
    sclz_local_db
    sclz_log "database: local cluster, $DATABASE_URL"
  fi
  sclz_unlock
  sclz_log "set-up done in $((SECONDS - t0)) s"
}

if [ -z "${SCLZONAL_SETUP_FUNCTIONS_ONLY:-}" ]; then
  sclz_setup_main
fi
