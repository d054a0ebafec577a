#!/usr/bin/env bash
# Make sure the local PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) answer: start them when
# they are installed but stopped, wait until they answer, or say exactly how to get them.
# Set BANDSYNC_SKIP_SERVICES=1 when your database and Redis live elsewhere.
set -uo pipefail

[[ ${BANDSYNC_SKIP_SERVICES:-0} == 1 ]] && exit 0

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() {
  local name=$1 port=$2
  for _ in $(seq 1 60); do
    answers "$port" && { echo "$name answers on 127.0.0.1:$port"; return 0; }
    sleep 0.5
  done
  echo "$name did not start answering on 127.0.0.1:$port within 30 s" >&2
  return 1
}

start_postgres() {
  if command -v pg_ctlcluster >/dev/null && [[ -d /etc/postgresql ]]; then
    local version
    version=$(ls /etc/postgresql | sort -V | tail -1)
    echo "starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
  else
    cat >&2 <<'MSG'
PostgreSQL is not answering on 127.0.0.1:5432 and no local cluster was found.
Install it (Debian/Ubuntu: apt-get install postgresql) and allow trust or password login for user
postgres on 127.0.0.1, or point BANDSYNC_DATABASE_URL at your server and set BANDSYNC_SKIP_SERVICES=1.
MSG
    return 1
  fi
}

start_redis() {
  if command -v redis-server >/dev/null; then
    echo "starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  else
    cat >&2 <<'MSG'
Redis is not answering on 127.0.0.1:6379 and redis-server is not installed.
Install it (Debian/Ubuntu: apt-get install redis-server), or point BANDSYNC_REDIS_URL at your server
and set BANDSYNC_SKIP_SERVICES=1.
MSG
    return 1
  fi
}

status=0
if ! answers 5432; then start_postgres && wait_for PostgreSQL 5432 || status=1; fi
if ! answers 6379; then start_redis && wait_for Redis 6379 || status=1; fi
exit $status
