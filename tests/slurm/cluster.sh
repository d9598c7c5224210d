#!/usr/bin/env bash
# A single-node SLURM cluster on this machine, for tests/test_slurm.py (Debian 12, as root).
#
#   tests/slurm/cluster.sh install   install munge, slurmctld, slurmd, slurm-client with apt (idempotent;
#                                    apt starts no services)
#   tests/slurm/cluster.sh start     write /etc/slurm/slurm.conf for this host, start munged, slurmctld
#                                    and slurmd without systemd, wait until the node is idle
#   tests/slurm/cluster.sh stop      stop the daemons by their pid files, remove the slurm.conf it wrote
#   tests/slurm/cluster.sh status    exit 0 if all three daemons run, 1 otherwise
#
# All traffic stays on 127.0.0.1. Accounting storage is off (so no sacct); completed jobs stay visible
# to `squeue --states=all` for MinJobAge seconds and are logged to /var/log/slurm/jobcomp.log.
# Every wait has a timeout (LOSSATLAS_SLURM_TIMEOUT seconds, default 60): a broken cluster fails fast.
set -euo pipefail

TIMEOUT=${LOSSATLAS_SLURM_TIMEOUT:-60}
CONF=/etc/slurm/slurm.conf
MARKER="# Written by Loss Atlas tests/slurm/cluster.sh"
PARTITION=debug
MUNGED_PID=/run/munge/munged.pid
SLURMCTLD_PID=/run/slurmctld.pid
SLURMD_PID=/run/slurmd.pid
LOGDIR=/var/log/slurm

log() { echo "cluster.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

require_root() { [ "$(id -u)" = 0 ] || die "must run as root"; }

installed() {
    command -v munged >/dev/null && command -v slurmctld >/dev/null && command -v slurmd >/dev/null &&
        command -v sbatch >/dev/null && command -v squeue >/dev/null
}

do_install() {
    require_root
    if installed; then
        log "SLURM and munge already installed"
    else
        command -v apt-get >/dev/null || die "apt-get not found"
        # Keep apt from starting the daemons (there is no systemd here, and we start them ourselves).
        local own_policy=0
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
            chmod +x /usr/sbin/policy-rc.d
            own_policy=1
        fi
        log "installing munge and SLURM with apt"
        export DEBIAN_FRONTEND=noninteractive
        local rc=0
        { timeout 600 apt-get update -q &&
            timeout 600 apt-get install -y -q --no-install-recommends slurmctld slurmd slurm-client munge; } || rc=$?
        [ "$own_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
        [ "$rc" = 0 ] || die "apt-get failed (exit $rc)"
    fi
    if [ ! -s /etc/munge/munge.key ]; then
        log "creating the munge key"
        mungekey --create --keyfile=/etc/munge/munge.key
        chown munge:munge /etc/munge/munge.key
        chmod 0400 /etc/munge/munge.key
    fi
}

write_conf() {
    local host cpus mem
    host=$(hostname -s)
    cpus=$(nproc)
    # 90% of the memory the kernel reports, so that slurmd never finds less than configured (a node
    # with less memory than its RealMemory is drained).
    mem=$(awk '/^MemTotal:/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
    if [ -e "$CONF" ] && ! grep -qF "$MARKER" "$CONF"; then
        die "$CONF exists and was not written by this script; not overwriting it"
    fi
    install -d /etc/slurm
    cat >"$CONF.tmp" <<EOF
$MARKER: a single-node test cluster on 127.0.0.1.
ClusterName=local
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=$SLURMCTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$LOGDIR/slurmctld.log
SlurmdLogFile=$LOGDIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$LOGDIR/jobcomp.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
# Finished jobs stay visible to squeue this long; Snakemake's squeue status check needs several
# times its first check interval.
MinJobAge=600
MpiDefault=none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=$PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    mv "$CONF.tmp" "$CONF"
}

# pid from a pid file, if that process is alive
live_pid() {
    local file=$1 pid
    [ -s "$file" ] || return 1
    pid=$(cat "$file")
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

running() { live_pid "$MUNGED_PID" >/dev/null && live_pid "$SLURMCTLD_PID" >/dev/null && live_pid "$SLURMD_PID" >/dev/null; }

wait_for() {  # wait_for DESCRIPTION COMMAND...
    local what=$1; shift
    local deadline=$((SECONDS + TIMEOUT))
    until "$@" >/dev/null 2>&1; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            log "timed out after ${TIMEOUT}s waiting for $what"
            tail -n 20 "$LOGDIR/slurmctld.log" "$LOGDIR/slurmd.log" 2>/dev/null >&2 || true
            return 1
        fi
        sleep 0.5
    done
}

node_idle() {
    local state
    state=$(timeout 10 sinfo -h -n "$(hostname -s)" -o %T 2>/dev/null) || return 1
    [ "$state" = idle ] || [ "$state" = mixed ] || [ "$state" = allocated ]
}

do_start() {
    require_root
    installed || die "SLURM is not installed; run '$0 install' first"
    write_conf
    install -d -o munge -g munge -m 0755 /run/munge
    install -d /var/spool/slurmctld /var/spool/slurmd "$LOGDIR"
    if ! live_pid "$MUNGED_PID" >/dev/null; then
        log "starting munged"
        runuser -u munge -- /usr/sbin/munged
    fi
    wait_for "munged" sh -c 'munge -n | unmunge'
    if ! live_pid "$SLURMCTLD_PID" >/dev/null; then
        log "starting slurmctld"
        /usr/sbin/slurmctld
    fi
    wait_for "slurmctld" timeout 10 scontrol ping
    if ! live_pid "$SLURMD_PID" >/dev/null; then
        log "starting slurmd"
        /usr/sbin/slurmd
    fi
    wait_for "node $(hostname -s) to be idle" node_idle
    wait_for "the pid files" running
    log "cluster up: node $(hostname -s), partition $PARTITION, $(nproc) CPUs"
}

stop_one() {  # stop_one NAME PIDFILE
    local name=$1 file=$2 pid deadline
    if pid=$(live_pid "$file"); then
        log "stopping $name (pid $pid)"
        kill -TERM "$pid"
        deadline=$((SECONDS + TIMEOUT))
        while kill -0 "$pid" 2>/dev/null; do
            if [ "$SECONDS" -ge "$deadline" ]; then
                log "$name (pid $pid) ignored SIGTERM for ${TIMEOUT}s; sending SIGKILL"
                kill -KILL "$pid" 2>/dev/null || true
                break
            fi
            sleep 0.2
        done
    fi
    rm -f "$file"
}

do_stop() {
    require_root
    stop_one slurmd "$SLURMD_PID"
    stop_one slurmctld "$SLURMCTLD_PID"
    stop_one munged "$MUNGED_PID"
    # Without its controller, a left-over slurm.conf makes every SLURM client wait about 10 s for it,
    # and Snakemake's SLURM plugin runs `scontrol show config` whenever Snakemake starts: remove ours.
    if [ -e "$CONF" ] && grep -qF "$MARKER" "$CONF"; then
        rm -f "$CONF"
    fi
}

case "${1:-}" in
    install) do_install ;;
    start) do_start ;;
    stop) do_stop ;;
    status) running ;;
    *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
