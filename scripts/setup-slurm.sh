#!/usr/bin/env bash
# A one-node Slurm cluster on this machine (munged, slurmctld, slurmd, all as root) for tests/cluster.
# Installs Debian's slurm-wlm daemons + munge with apt when root and a mirror answers, writes a minimal
# slurm.conf for this host (its real CPUs and memory, from `slurmd -C`), starts the daemons that are not running
# and waits until `sinfo` shows the node idle. Where any of that is impossible it says why and exits 0: the
# Slurm tests then skip with that reason (and fail under CI=true).
# Recipe measured with Debian 12's slurm-wlm 22.05: ProctrackType=proctrack/linuxproc and TaskPlugin=task/none
# (no cgroups needed in a container); `srun --mpi=pmi2` joins the ranks into one MPI world with PyPI's MPICH.
set -uo pipefail

say() { echo "[setup-slurm] $*"; }
# The daemons started below must not inherit the caller's open files (e.g. `flock LOCK scripts/setup-slurm.sh`
# would leave LOCK held by munged for as long as it runs): close every descriptor above stderr (255: bash's own).
for fd in $(ls /proc/$$/fd 2>/dev/null); do
    if [ "$fd" -gt 2 ] && [ "$fd" -lt 255 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
done
conf=/etc/slurm/slurm.conf

if [ "$(id -u)" != 0 ]; then say "not root: no Slurm installed (tests/cluster Slurm tests skip)"; exit 0; fi

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null \
        || ! command -v munged >/dev/null; then
    if ! command -v apt-get >/dev/null; then say "no apt-get: cannot install slurm-wlm"; exit 0; fi
    say "installing slurmctld slurmd slurm-client munge (apt)"
    if ! timeout 300 apt-get update -qq >/tmp/setup-slurm-apt.log 2>&1; then
        say "apt-get update failed (no reachable Debian mirror?): see /tmp/setup-slurm-apt.log"; exit 0
    fi
    if ! DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq --no-install-recommends \
            slurmctld slurmd slurm-client munge >>/tmp/setup-slurm-apt.log 2>&1; then
        say "apt-get install failed: see /tmp/setup-slurm-apt.log"; exit 0
    fi
fi

# munge: a key, then the daemon (as root: --force accepts root-owned files)
mkdir -p /etc/munge /var/lib/munge /var/log/munge /run/munge
if [ ! -s /etc/munge/munge.key ]; then
    if command -v mungekey >/dev/null; then mungekey --create --force >/dev/null 2>&1
    else dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none; fi
fi
chmod 0400 /etc/munge/munge.key
if ! pgrep -x munged >/dev/null; then
    chown -R root:root /etc/munge /var/lib/munge /var/log/munge /run/munge
    munged --force >/tmp/setup-slurm-munged.log 2>&1 || { say "munged did not start: /tmp/setup-slurm-munged.log"; exit 0; }
fi

node=$(hostname -s)
if [ ! -s "$conf" ] || ! grep -q "written by harness scripts/setup-slurm.sh" "$conf"; then
    # `slurmd -C` prints this node's real hardware line: NodeName=... CPUs=... RealMemory=...
    hw=$(slurmd -C 2>/dev/null | head -1)
    [ -n "$hw" ] || { say "slurmd -C printed nothing"; exit 0; }
    mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
    cat >"$conf" <<CONF
# written by harness scripts/setup-slurm.sh: a one-node cluster on this host for tests/cluster
ClusterName=harness-local
SlurmctldHost=${node}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
KillWait=5
OverTimeLimit=0
InactiveLimit=0
MinJobAge=300
${hw} NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=${node} Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
fi

pgrep -x slurmctld >/dev/null || slurmctld || { say "slurmctld did not start: /var/log/slurm/slurmctld.log"; exit 0; }
pgrep -x slurmd >/dev/null || slurmd || { say "slurmd did not start: /var/log/slurm/slurmd.log"; exit 0; }

for _ in $(seq 60); do
    state=$(sinfo -h -n "$node" -o %T 2>/dev/null | head -1)
    case "$state" in
        idle|mixed|allocated) say "node $node is $state: $(sinfo -h -o '%P %D %c CPUs %m MB' | head -1)"; exit 0 ;;
        down*|drain*) scontrol update nodename="$node" state=resume >/dev/null 2>&1 ;;
    esac
    sleep 1
done
say "the node did not become idle within 60 s (state: ${state:-none}); see /var/log/slurm/"
exit 0
