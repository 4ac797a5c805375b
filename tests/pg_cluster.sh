#!/usr/bin/env bash
# A throwaway PostgreSQL 15 server (with pgvector, from `make setup`) for the tests of the PostgreSQL
# storage back end (issue 16). One folder holds everything: the data, the unix socket, the log.
#
#   pg_cluster.sh start DIR [--watch PID]   fresh server in DIR (a leftover DIR is stopped and removed first);
#                                           prints the socket URI. --watch: stop it once process PID is gone.
#   pg_cluster.sh stop DIR                  stops it and removes DIR (safe twice, and after a failed start)
#   pg_cluster.sh uri DIR                   prints the socket URI again
#
# DIR/uri:     postgresql://facesearch@/facesearch?host=DIR&port=PORT  (unix socket, trust)
# DIR/uri_tcp: postgresql://facesearch:facesearch-test@127.0.0.1:PORT/facesearch  (scram-sha-256)
# Role facesearch (superuser) owns database facesearch; template1 has the extension vector, so every
# database made afterwards has it too. PostgreSQL refuses to run as root: as root the server runs as the
# system user postgres, which must be able to reach DIR (/tmp is fine; not under a 0700 home). The socket's
# path, DIR/.s.PGSQL.PORT, must fit in 107 bytes. FACESEARCH_PG_BIN overrides PostgreSQL's bin folder.
set -euo pipefail

PG_BIN=${FACESEARCH_PG_BIN:-/usr/lib/postgresql/15/bin}
ROLE=facesearch
PASSWORD=facesearch-test
DATABASE=facesearch
PGVECTOR_VERSION=0.8.0
START_DEADLINE_S=60
MARKER=.facesearch-pg-cluster   # a folder stop may delete: made by start

log() { printf '[pg_cluster] %s\n' "$*" >&2; }
die() { printf '[pg_cluster] error: %s\n' "$*" >&2; exit 1; }

as_server_user=()
[ "$(id -u)" -eq 0 ] && as_server_user=(runuser -u postgres --)

# Percent-encodes a path for a URI's query value (libpq decodes it).
uri_encode() {
  local s=$1 out="" c i
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case $c in [A-Za-z0-9/._~-]) out+=$c ;; *) out+=$(printf '%%%02X' "'$c") ;; esac
  done
  printf '%s' "$out"
}

# The postmaster's pid recorded by start, if that process still is this cluster's postgres.
live_postmaster_pid() {
  local dir=$1 pid
  pid=$(cat "$dir/postmaster.launched" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF -- "$dir/data" || return 1
  echo "$pid"
}

ensure_ours() {
  [ -f "$1/$MARKER" ] || [ -z "$(ls -A "$1")" ] || die "$1 was not made by pg_cluster.sh start (no $MARKER): not deleting it"
}

cmd_stop() {
  local dir=$1
  [ -e "$dir" ] || return 0
  ensure_ours "$dir"
  if [ -f "$dir/data/postmaster.pid" ]; then
    "${as_server_user[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" stop -m fast -t 30 >/dev/null 2>&1 \
      || "${as_server_user[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" stop -m immediate -t 30 >/dev/null 2>&1 || true
  fi
  # A server that died half way through start, or that pg_ctl could not stop.
  local pid
  if pid=$(live_postmaster_pid "$dir"); then
    kill -QUIT "$pid" 2>/dev/null || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}

# Runs in the background after `start DIR --watch PID`: stops the cluster once PID has exited (also when
# it was killed and could not clean up), or returns when DIR is gone (stopped by its owner).
cmd_watch() {
  local dir=$1 pid=$2
  while [ -f "$dir/$MARKER" ] && kill -0 "$pid" 2>/dev/null; do sleep 1; done
  [ -f "$dir/$MARKER" ] && cmd_stop "$dir"
  return 0
}

free_tcp_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

cmd_start() {
  local dir=$1 watch_pid=${2:-}
  [ -x "$PG_BIN/postgres" ] || die "PostgreSQL 15 is not installed ($PG_BIN/postgres missing): run \`make setup\`"
  local sharedir; sharedir=$("$PG_BIN/pg_config" --sharedir)
  grep -Eq "^default_version *= *'$PGVECTOR_VERSION'" "$sharedir/extension/vector.control" 2>/dev/null \
    || die "pgvector $PGVECTOR_VERSION is not installed into PostgreSQL 15 ($sharedir/extension/vector.control): run \`make setup\`"
  if [ ${#as_server_user[@]} -gt 0 ]; then
    id postgres >/dev/null 2>&1 || die "running as root, but there is no system user postgres to run the server as"
  fi

  if [ -e "$dir" ]; then
    ensure_ours "$dir"
    [ -z "$(ls -A "$dir")" ] || log "stopping and removing what an earlier run left in $dir"
    cmd_stop "$dir"
  fi
  mkdir -p "$dir"
  touch "$dir/$MARKER"
  trap 'cmd_stop "$dir"' EXIT   # a failed start leaves nothing behind
  if [ ${#as_server_user[@]} -gt 0 ]; then
    chown postgres: "$dir"
    runuser -u postgres -- test -w "$dir" -a -x "$dir" \
      || die "the system user postgres cannot reach $dir: every folder above it needs o+x (use one under /tmp)"
  fi

  "${as_server_user[@]}" "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    -E UTF8 --locale=C --no-sync --no-instructions > "$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; die "initdb failed in $dir/data"; }
  # Small and fast: a test server holds a few thousand rows and loses nothing worth keeping on a crash.
  cat >> "$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
shared_buffers = 32MB
max_connections = 50
fsync = off
synchronous_commit = off
full_page_writes = off
logging_collector = off
EOF
  # More settings (a benchmark's: memory, durability), appended: later lines win.
  if [ -n "${PG_CLUSTER_CONF:-}" ]; then printf '%s\n' "$PG_CLUSTER_CONF" >> "$dir/data/postgresql.conf"; fi

  local port attempt ready=
  for attempt in 1 2 3; do
    port=$(free_tcp_port)
    # setsid + stdio on files, as pg_ctl starts it: the server outlives this script and holds none of its
    # caller's pipes (ctest waits for those). The postmaster's pid is echoed (exec keeps it).
    "${as_server_user[@]}" bash -c 'exec setsid "$0" -D "$1" -p "$2" </dev/null >>"$3" 2>&1 & echo $!' \
      "$PG_BIN/postgres" "$dir/data" "$port" "$dir/server.log" > "$dir/postmaster.launched"
    local pid; pid=$(cat "$dir/postmaster.launched")
    local deadline=$((SECONDS + START_DEADLINE_S))
    while [ $SECONDS -lt $deadline ]; do
      if "$PG_BIN/pg_isready" -q -h "$dir" -p "$port" -d postgres -t 2; then ready=1; break; fi
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    [ -n "$ready" ] && break
    if kill -0 "$pid" 2>/dev/null; then
      cat "$dir/server.log" >&2; die "the server did not accept connections within ${START_DEADLINE_S} s"
    fi
    if ! grep -q "could not bind\|Address already in use" "$dir/server.log"; then
      cat "$dir/server.log" >&2; die "the server died while starting"
    fi
    log "port $port was taken before the server bound it: trying another"
  done
  [ -n "$ready" ] || { cat "$dir/server.log" >&2; die "the server could not bind a TCP port"; }

  local psql=("$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres)
  { "${psql[@]}" -d template1 -c "CREATE EXTENSION vector" \
    && "${psql[@]}" -d postgres -c "CREATE ROLE $ROLE LOGIN CREATEDB SUPERUSER PASSWORD '$PASSWORD'" \
                                -c "CREATE DATABASE $DATABASE OWNER $ROLE"; } > "$dir/setup.log" 2>&1 \
    || { cat "$dir/setup.log" >&2; die "creating role $ROLE, database $DATABASE or the extension vector failed"; }

  local uri="postgresql://$ROLE@/$DATABASE?host=$(uri_encode "$dir")&port=$port"
  echo "$uri" > "$dir/uri"
  echo "postgresql://$ROLE:$PASSWORD@127.0.0.1:$port/$DATABASE" > "$dir/uri_tcp"
  trap - EXIT
  if [ -n "$watch_pid" ]; then
    setsid bash "${BASH_SOURCE[0]}" watch "$dir" "$watch_pid" </dev/null >/dev/null 2>&1 &
  fi
  echo "$uri"
}

# Absolute and without symbolic links: the server's command line and the socket URI name the folder so.
[ $# -ge 2 ] && [ -n "$2" ] && set -- "$1" "$(realpath -m -- "$2")" "${@:3}"

case "${1:-}" in
  start)
    [ $# -eq 2 ] || { [ $# -eq 4 ] && [ "$3" = --watch ] && [[ $4 =~ ^[0-9]+$ ]]; } \
      || die "usage: pg_cluster.sh start DIR [--watch PID]"
    cmd_start "$2" "${4:-}" ;;
  stop) [ $# -eq 2 ] || die "usage: pg_cluster.sh stop DIR"; cmd_stop "$2" ;;
  uri) [ $# -eq 2 ] || die "usage: pg_cluster.sh uri DIR"; cat "$2/uri" 2>/dev/null || die "no cluster in $2 (no $2/uri)" ;;
  watch) [ $# -eq 3 ] || die "usage: pg_cluster.sh watch DIR PID"; cmd_watch "$2" "$3" ;;
  *) die "usage: pg_cluster.sh start DIR [--watch PID] | stop DIR | uri DIR" ;;
esac
