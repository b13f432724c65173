#!/usr/bin/env bash
# cluster/stop-slurm.sh - stop the one-node TEST SLURM cluster started by
# cluster/start-slurm.sh (tests only). Each daemon is stopped by the PID in its pidfile:
# SIGTERM, wait at most SLURM_WAIT_S seconds (default 20), then SIGKILL.
# Idempotent: daemons that are not running are skipped.
#   --wipe   also delete slurmctld/slurmd job state and the
#            accounting database (next start begins with fresh job ids and empty sacct)
set -uo pipefail
WIPE=0
case "${1:-}" in --wipe) WIPE=1 ;; "") ;; *) echo "usage: $0 [--wipe]" >&2; exit 2 ;; esac
WAIT_S=${SLURM_WAIT_S:-20}
CI_DIR=${SLURM_CI_DIR:-/tmp/nst-slurm}
T0=$(date +%s)
log() { printf '[stop-slurm %3ss] %s\n' "$(( $(date +%s) - T0 ))" "$*"; }
[ "$(id -u)" = 0 ] || { log "ERROR: must run as root"; exit 1; }

stop() {  # NAME PIDFILE
  local name=$1 pf=$2 pid end
  [ -s "$pf" ] || { log "$name: not running (no pidfile $pf)"; return 0; }
  pid=$(cat "$pf")
  if ! kill -0 "$pid" 2>/dev/null; then log "$name: not running (stale pid $pid)"; rm -f "$pf"; return 0; fi
  kill "$pid"
  end=$(( $(date +%s) + WAIT_S ))
  while kill -0 "$pid" 2>/dev/null && [ "$(date +%s)" -lt "$end" ]; do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name: pid $pid ignored SIGTERM for ${WAIT_S}s, sending SIGKILL"; kill -9 "$pid" 2>/dev/null
  fi
  rm -f "$pf"; log "$name: stopped pid $pid"
}

stop slurmd    /run/slurm/slurmd.pid
stop slurmctld /run/slurm/slurmctld.pid
stop slurmdbd  /run/slurm/slurmdbd.pid
if [ "$WIPE" = 1 ] && [ -S /run/mysqld/mysqld.sock ]; then
  mariadb -e "DROP DATABASE IF EXISTS slurm_acct_db" && log "dropped accounting DB slurm_acct_db"
fi
stop mariadbd  /run/mysqld/mysqld.pid
stop munged    /run/munge/munged.pid
if [ "$WIPE" = 1 ]; then
  rm -rf /var/lib/slurm/slurmctld/* /var/lib/slurm/slurmd/*
  log "wiped slurm job state"
fi
rm -f "$CI_DIR/daemons.pids"
log "done"
