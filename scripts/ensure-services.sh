#!/usr/bin/env bash
# Start the services the tests talk to (Redis 127.0.0.1:6379, RabbitMQ 127.0.0.1:5672 guest/guest,
# PostgreSQL 127.0.0.1:5432 with trust auth and a `test` database)
# when they are down. CI and new machines start bare; a machine where they run is left alone.
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() { # name port seconds
  local deadline=$((SECONDS + $3))
  until port_open "$2"; do
    if ((SECONDS > deadline)); then echo "ensure-services: $1 did not open port $2 within $3 s" >&2; exit 1; fi
    sleep 1
  done
}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

install_missing() {
  local missing=()
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v rabbitmq-server >/dev/null || missing+=(rabbitmq-server)
  if ((${#missing[@]})); then
    echo "ensure-services: installing ${missing[*]}"
    as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  fi
}

if ! port_open 6379; then
  install_missing
  echo "ensure-services: starting Redis"
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_port Redis 6379 30
fi

if ! port_open 5672; then
  install_missing
  echo "ensure-services: starting RabbitMQ"
  rabbitmq-server -detached
  deadline=$((SECONDS + 120))
  until rabbitmq-diagnostics -q ping >/dev/null 2>&1 && port_open 5672; do
    if ((SECONDS > deadline)); then echo "ensure-services: RabbitMQ did not start within 120 s" >&2; exit 1; fi
    sleep 2
  done
fi
if ! port_open 5432; then
  if ! command -v pg_ctlcluster >/dev/null; then
    as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql
  fi
  echo "ensure-services: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
  wait_port PostgreSQL 5432 60
fi
echo "ensure-services: Redis 6379, RabbitMQ 5672 and PostgreSQL 5432 are up"
