#!/usr/bin/env bash
# Start a single-node SLURM cluster on this machine (CI and tests/workflow/test_slurm.py).
# Idempotent: installs munge + slurmctld + slurmd (Debian), writes a minimal /etc/slurm/slurm.conf
# for this host (its CPUs and memory, no accounting, no cgroups: works inside a container), starts
# the daemons and waits until `sinfo` shows the node idle. Needs root.
set -euo pipefail

[ "$(id -u)" -eq 0 ] || { echo "ci/slurm/setup.sh: must run as root" >&2; exit 1; }

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
    || ! command -v munged >/dev/null || ! command -v sbatch >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends munge slurmctld slurmd slurm-client >/dev/null
fi

HOST=$(hostname -s)
CPUS=$(nproc)
# Leave 512 MiB to the system; slurmd refuses to start if RealMemory exceeds what it sees.
MEM_MB=$(( $(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo) - 512 ))
CONF=/etc/slurm/slurm.conf
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge
NEW_CONF=$(cat <<CONF
# Written by ci/slurm/setup.sh: one node, no accounting, no cgroups.
ClusterName=advpretrain
SlurmctldHost=${HOST}
AuthType=auth/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MpiDefault=none
SwitchType=switch/none
InactiveLimit=0
KillWait=5
MinJobAge=300
SlurmctldTimeout=30
SlurmdTimeout=30
Waittime=0
NodeName=${HOST} CPUs=${CPUS} RealMemory=${MEM_MB} State=UNKNOWN
PartitionName=debug Nodes=${HOST} Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
)
CHANGED=0
if [ ! -f "$CONF" ] || [ "$(cat "$CONF")" != "$NEW_CONF" ]; then
    printf '%s\n' "$NEW_CONF" > "$CONF"
    CHANGED=1
fi

# munge: a key, right owners, the daemon.
if [ ! -s /etc/munge/munge.key ]; then
    mkdir -p /etc/munge
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
fi
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
chmod 0700 /etc/munge; chmod 0400 /etc/munge/munge.key; chmod 0755 /run/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    runuser -u munge -- /usr/sbin/munged --force
    for _ in $(seq 20); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.5; done
fi

# Restart the SLURM daemons when the config changed; start them when they are not running.
running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
if [ "$CHANGED" -eq 1 ]; then
    for pidfile in /run/slurmd.pid /run/slurmctld.pid; do
        if running "$pidfile"; then kill "$(cat "$pidfile")"; sleep 2; fi
    done
fi
running /run/slurmctld.pid || /usr/sbin/slurmctld
sleep 1
running /run/slurmd.pid || /usr/sbin/slurmd

# Wait until the node takes jobs.
for _ in $(seq 60); do
    state=$(sinfo -h -N -o '%t' 2>/dev/null | head -n1 || true)
    case "$state" in
        idle|mix|alloc) echo "SLURM is up: node ${HOST} (${CPUS} CPUs, ${MEM_MB} MB) is ${state}"; exit 0 ;;
        down*|drain*|fail*) scontrol update NodeName="$HOST" State=RESUME 2>/dev/null || true ;;
    esac
    sleep 1
done
echo "ci/slurm/setup.sh: node did not become idle; sinfo says:" >&2
sinfo -N -l >&2 || true
tail -n 30 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
exit 1
