#!/usr/bin/env bash
# A real single-node SLURM on this machine (Debian's slurmctld, slurmd and munge on localhost),
# and the acceptance check of `--executor slurm` against it:
#
#   scripts/slurm_local.sh start DIR    configure and start munged, slurmctld and slurmd under DIR
#   scripts/slurm_local.sh stop DIR     stop them (only the daemons whose pid files are in DIR)
#   scripts/slurm_local.sh check [DIR]  start; a quick sweep through `--executor slurm`; collect it;
#                                       the same plan through `--executor local`; compare cases, phases
#                                       and verdict structure; stop. Exit 0 only when all of it holds.
#
# Needs root (the daemons run as root here) and the packages: apt-get install slurm-wlm munge
# (or the smaller slurmctld slurmd slurm-client munge). Everything lives in DIR (default a new
# temporary folder): the config, the munge key, state, logs; the daemons listen on private ports,
# so a SLURM already running on the machine is not touched. Client commands find this cluster
# through SLURM_CONF=DIR/slurm.conf, which `check` exports and `start` prints.
# Environment: PYTHON (default .venv/bin/python, else python3), FWBENCH_ARCHIVE (else a tiny
# synthetic archive is made), SLURM_PORT (default 16817; slurmd uses the next port).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
PYTHON=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
PORT=${SLURM_PORT:-16817}

die() { echo "slurm_local: $*" >&2; exit 2; }

start() {
  local d=$1
  for b in munged slurmctld slurmd sbatch sinfo; do
    command -v "$b" >/dev/null || die "no $b on PATH: apt-get install slurm-wlm munge"
  done
  [ "$(id -u)" = 0 ] || die "the local daemons need root here (slurmd runs jobs as their user)"
  mkdir -p "$d"/{state,spool,munge}
  d=$(cd "$d" && pwd)
  local host cpus
  host=$(hostname -s)
  cpus=$(( $(nproc) < 2 ? $(nproc) : 2 ))
  [ -f "$d/munge/munge.key" ] || { dd if=/dev/urandom of="$d/munge/munge.key" bs=1024 count=1 status=none; chmod 600 "$d/munge/munge.key"; }
  chmod 700 "$d/munge"
  munged --force --socket="$d/munge/munge.sock" --key-file="$d/munge/munge.key" \
         --pid-file="$d/munge/munged.pid" --log-file="$d/munge/munged.log" --seed-file="$d/munge/munged.seed"
  cat > "$d/slurm.conf" <<EOF
ClusterName=fwbench-local
SlurmctldHost=$host
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$d/munge/munge.sock
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd.pid
SlurmctldLogFile=$d/slurmctld.log
SlurmdLogFile=$d/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
NodeName=$host CPUs=$cpus State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  export SLURM_CONF="$d/slurm.conf"
  slurmctld -f "$SLURM_CONF"
  slurmd -f "$SLURM_CONF"
  for _ in $(seq 1 60); do  # the node registers within seconds
    if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
      echo "slurm_local: a single-node SLURM ($host, $cpus CPUs) is up; export SLURM_CONF=$SLURM_CONF"
      return 0
    fi
    sleep 1
  done
  tail -5 "$d/slurmctld.log" "$d/slurmd.log" >&2 || true
  die "the node did not come up in 60 s (logs in $d)"
}

stop() {
  local d=$1
  for f in slurmd.pid slurmctld.pid munge/munged.pid; do
    [ -f "$d/$f" ] && kill "$(cat "$d/$f")" 2>/dev/null || true
  done
}

check() {
  local d=$1 work
  start "$d"
  trap 'stop "'"$d"'"' EXIT
  export SLURM_CONF="$d/slurm.conf"
  work="$d/work"
  mkdir -p "$work"
  local archive=${FWBENCH_ARCHIVE:-}
  if [ -z "$archive" ] || [ ! -f "$archive" ]; then
    archive="$work/tiny-20news.tar.gz"
    PYTHONPATH="$REPO" "$PYTHON" -c "from pathlib import Path; from tests.conftest import make_tiny_archive; make_tiny_archive(Path('$archive'))"
  fi
  export FWBENCH_CACHE="$work/cache"
  # a quick plan: two points, two cases, two phases, one process each (a smoke test, not a measurement)
  local plan=(sweep batch_size --values 4,8 --archive "$archive" --hidden 16,16 --epochs 2 --quick --devices cpu
              --frameworks torch:eager,torch:fused --phases train_epoch,predict_one --processes 1)
  PYTHONPATH="$REPO" "$PYTHON" -m benchmarks.cli "${plan[@]}" --executor slurm --slurm-time 10 --output "$work/slurm"
  PYTHONPATH="$REPO" "$PYTHON" -m benchmarks.cli "${plan[@]}" --executor local --output "$work/local"
  PYTHONPATH="$REPO" "$PYTHON" -m benchmarks.cli collect "$work/slurm" --output "$work/collected"
  PYTHONPATH="$REPO" "$PYTHON" - "$work" <<'EOF'
import json, sys
from pathlib import Path
import pandas as pd
work = Path(sys.argv[1])
def structure(sweeps: Path):
    (folder,) = list(sweeps.iterdir())
    t = pd.read_csv(folder / "sweep.csv")
    # which rows exist and which have a verdict against a baseline (the verdict word itself is a
    # measurement and may differ between two quick runs)
    return folder, sorted((int(r.batch_size), r.case, r.phase, r.status, r.verdict == "baseline",
                           isinstance(r.verdict, str)) for r in t.itertuples())
slurm_folder, slurm = structure(work / "slurm" / "sweeps")
_, local = structure(work / "local" / "sweeps")
assert slurm == local, f"--executor slurm and --executor local differ in structure:\n{slurm}\n{local}"
col = json.loads((work / "collected" / "collection.json").read_text())
assert not col["missing"] and len(col["parts"]) == 2, col
for p in (slurm_folder / "points").iterdir():
    if p.name.startswith("batch_size="):
        m = json.loads((p / "manifest.json").read_text())
        assert m["command"].startswith("fwbench sweep batch_size"), m["command"]
print(f"slurm_local: same structure: {len(slurm)} rows (points x cases x phases) with the same structure through "
      f"--executor slurm and --executor local; collected {len(col['parts'])} parts from "
      f"{len(col['machines'])} machine(s), nothing missing")
EOF
  # a job that dies (cancelled while it runs): one line, exit status 2, the sweep's results intact
  local run=(run --archive "$archive" --hidden 16,16 --epochs 2 --batch-size 8 --quick --devices cpu
             --frameworks torch:eager,torch:fused --phases train_epoch,predict_one --processes 1)
  set +e
  PYTHONPATH="$REPO" "$PYTHON" -m benchmarks.cli "${run[@]}" --executor slurm --slurm-time 10 --output "$work/slurm" \
    >"$work/dies.out" 2>"$work/dies.err" &
  local pid=$! jid="" rc
  for _ in $(seq 1 240); do
    jid=$(squeue -h -t RUNNING -o %i | head -1)
    [ -n "$jid" ] && break
    sleep 0.5
  done
  [ -n "$jid" ] && scancel "$jid"
  wait "$pid"; rc=$?
  set -e
  [ -n "$jid" ] || die "the run's job never ran"
  [ "$rc" = 2 ] || die "a cancelled job gave exit status $rc, not 2: $(cat "$work/dies.err")"
  [ "$(wc -l < "$work/dies.err")" = 1 ] || die "a cancelled job gave more than one line on stderr: $(cat "$work/dies.err")"
  grep -q "got no result" "$work/dies.err" || die "the cancelled job is not named: $(cat "$work/dies.err")"
  ls "$work"/slurm/sweeps/*/points/batch_size=4/manifest.json >/dev/null || die "the sweep's results were lost"
  echo "slurm_local: a cancelled job: $(cat "$work/dies.err")"
  echo "slurm_local: OK"
}

cmd=${1:-}
case "$cmd" in
  start) [ -n "${2:-}" ] || die "usage: $0 start DIR"; start "$2" ;;
  stop)  [ -n "${2:-}" ] || die "usage: $0 stop DIR"; stop "$2" ;;
  check) dir=${2:-$(mktemp -d /tmp/fwbench-slurm.XXXXXX)}; check "$dir" ;;
  *) die "usage: $0 start DIR | stop DIR | check [DIR]" ;;
esac
