#!/usr/bin/env bash
# The scale-out recipe of docs/scale-out.md on a real Slurm: brings up a single-node Slurm on
# localhost (Debian slurm-wlm + munge, as root, no systemd: munged, slurmctld and slurmd started
# directly), runs deploy/slurm/extract-array.sh as a 4-task array with deploy/slurm/merge.sh
# depending on it, cancels one task and kill -9s another mid-run, recovers as the docs say
# (resubmit --array=K, scontrol update the merge's dependency), and checks that the merged
# database equals one plain extraction bit for bit (paths, labels, hashes, splits, views, vectors).
# It also runs the container command of deploy/kubernetes/extract-job.yaml for every index (after
# scripts/check_k8s_job.py validated the manifest) and checks its merge the same way.
#
#   sudo scripts/slurm_test.sh            # dev photos from ../shared when present, else fixtures/
#
# Environment: TLEARN (binary; default .build/debug/tlearn, built if missing), SLURM_TEST_DATA
# (shared | fixtures), SLURM_TEST_REQUIRED=1 (fail instead of skipping when Slurm cannot be set
# up), KEEP=1 (leave the work folder). Exits 0 when it passed or skipped (saying why), 1 on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
SHARDS=4

say() { echo "slurm_test: $*"; }
fail() { echo "slurm_test: FAILED: $*" >&2; exit 1; }
# Skipping is for machines where Slurm cannot be brought up at all; with SLURM_TEST_REQUIRED=1 it fails.
skip() {
    if [ "${SLURM_TEST_REQUIRED:-0}" = 1 ]; then fail "cannot run: $*"; fi
    echo "slurm_test: SKIPPED: $*"
    exit 0
}

[ "$(uname -s)" = Linux ] || skip "needs Linux (found $(uname -s))"
[ "$(id -u)" = 0 ] || skip "needs root to start munged, slurmctld and slurmd (run with sudo)"

# --- what it needs ---------------------------------------------------------------------------
need_debs=()
for c in slurmctld:slurm-wlm slurmd:slurm-wlm sbatch:slurm-client munged:munge sqlite3:sqlite3 taskset:util-linux; do
    command -v "${c%%:*}" >/dev/null || need_debs+=("${c#*:}")
done
python3 -c 'import yaml' 2>/dev/null || need_debs+=(python3-yaml)
if [ ${#need_debs[@]} -gt 0 ]; then
    command -v apt-get >/dev/null || skip "missing ${need_debs[*]} and no apt-get to install them"
    say "installing ${need_debs[*]}"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_debs[@]}"; } >/tmp/slurm_test-apt.log 2>&1; then
        tail -5 /tmp/slurm_test-apt.log >&2
        skip "apt-get install ${need_debs[*]} failed (log above)"
    fi
fi
for c in slurmctld slurmd sbatch scontrol squeue scancel munged munge sqlite3 python3; do
    command -v "$c" >/dev/null || fail "$c is still missing after installing"
done

TLEARN=${TLEARN:-$REPO/.build/debug/tlearn}
if [ ! -x "$TLEARN" ]; then
    say "building tlearn (swift build --product tlearn)"
    swift build --product tlearn >/tmp/slurm_test-build.log 2>&1 || { tail -20 /tmp/slurm_test-build.log >&2; fail "swift build failed"; }
fi
TLEARN=$(readlink -f "$TLEARN")

W=$(mktemp -d /tmp/tlearn-slurm.XXXXXX)
chmod 755 "$W"
mkdir -p "$W/bin" "$W/state" "$W/spool" "$W/logs" "$W/shards" "$W/k8s"
ln -s "$TLEARN" "$W/bin/tlearn"

SHARED=${SHARED:-$REPO/../shared}
DATA=${SLURM_TEST_DATA:-auto}
if [ "$DATA" != fixtures ] && [ -d "$SHARED/data/flower_photos_dev" ] && [ -f "$SHARED/weights/mnv2_no_top_keras2.h5" ]; then
    IMAGES=$(readlink -f "$SHARED/data/flower_photos_dev"); WEIGHTS=$(readlink -f "$SHARED/weights/mnv2_no_top_keras2.h5")
    DATA=shared
else
    [ "$DATA" = shared ] && fail "SLURM_TEST_DATA=shared but $SHARED/data/flower_photos_dev is not there"
    # The fixture images that decode, three to a class folder; the tiny seeded weights.
    IMAGES=$W/images; WEIGHTS=$REPO/fixtures/weights/tiny_a035_keras3.h5
    i=0
    for f in rgb_64x48.jpg rgb_37x23.jpg rgb_192x128.jpg progressive_96x72.jpg gray_50x30.jpg cmyk_44x28.jpg exif6_40x24.jpg \
             rgb_33x21.png rgba_30x20.png palette_26x18.png png_named.jpg; do
        cls=$(echo cats dogs owls | cut -d' ' -f$((i % 3 + 1))); mkdir -p "$IMAGES/$cls"; cp "$REPO/fixtures/images/$f" "$IMAGES/$cls/$f"; i=$((i + 1))
    done
    DATA=fixtures
fi
IMAGE_COUNT=$(find "$IMAGES" -type f | wc -l)
say "data: $DATA ($IMAGE_COUNT files in $IMAGES), work folder $W"

# --- Slurm on localhost ------------------------------------------------------------------------
STARTED_MUNGED=0
cleanup() {
    set +e
    if [ -f "$W/slurm.conf" ]; then
        for j in ${OUR_JOBS:-}; do scancel "$j" 2>/dev/null; done
    fi
    for p in slurmd slurmctld; do
        [ -f "$W/$p.pid" ] && kill "$(cat "$W/$p.pid")" 2>/dev/null
    done
    if [ "$STARTED_MUNGED" = 1 ] && [ -f /run/munge/munged.pid ]; then kill "$(cat /run/munge/munged.pid)" 2>/dev/null; fi
    sleep 1
    if [ "${KEEP:-0}" = 1 ]; then echo "slurm_test: work folder kept: $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT

if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    [ -f /etc/munge/munge.key ] || { mungekey --create >/dev/null 2>&1 || create-munge-key -f >/dev/null 2>&1 || fail "cannot create /etc/munge/munge.key"; }
    chown munge:munge /etc/munge/munge.key 2>/dev/null || true
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    runuser -u munge -- /usr/sbin/munged || fail "munged did not start"
    STARTED_MUNGED=1
    for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
    munge -n | unmunge >/dev/null || fail "munge credentials do not round-trip"
fi

# The node line as slurmd sees this machine (CPUs, sockets, memory), under the name localhost.
NODE=$(slurmd -C | head -1 | sed -e 's/^NodeName=[^ ]*/NodeName=localhost NodeAddr=127.0.0.1 NodeHostname=localhost/')
CPUS=$(echo "$NODE" | sed -n 's/.* CPUs=\([0-9]*\).*/\1/p')
cat > "$W/slurm.conf" <<EOF
ClusterName=tlearn-test
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$W/state
SlurmdSpoolDir=$W/spool
SlurmctldPidFile=$W/slurmctld.pid
SlurmdPidFile=$W/slurmd.pid
SlurmctldLogFile=$W/slurmctld.log
SlurmdLogFile=$W/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
MinJobAge=3600
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
$NODE State=UNKNOWN
PartitionName=test Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$W/slurm.conf
slurmctld -f "$SLURM_CONF" || fail "slurmctld did not start: $(tail -5 "$W/slurmctld.log" 2>/dev/null)"
slurmd -f "$SLURM_CONF" -N localhost || fail "slurmd did not start: $(tail -5 "$W/slurmd.log" 2>/dev/null)"
for _ in $(seq 100); do
    sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)' && break
    sleep 0.3
done
sinfo -h -o '%T' | grep -qE '^(idle|mixed|allocated)' || fail "the node never became idle: $(sinfo 2>&1; tail -5 "$W/slurmctld.log")"
say "Slurm up: $(sinfo -h -o '%N %c CPUs %T') ($(sbatch --version))"

OUR_JOBS=""
submit() { local j; j=$(sbatch --parsable "$@") || fail "sbatch $* refused"; j=${j%%;*}; OUR_JOBS="$OUR_JOBS $j"; echo "$j"; }
# Settings the deploy scripts read; one CPU per task, so two tasks run at once on two cores.
EXPORT="ALL,IMAGES=$IMAGES,WEIGHTS=$WEIGHTS,SHARDS_DIR=$W/shards,SHARDS=$SHARDS,DB=$W/merged.sqlite,TLEARN=$TLEARN"
job_states() { scontrol -o show job "$1" 2>/dev/null | sed -n 's/.*ArrayTaskId=\([^ ]*\) .*JobState=\([A-Z_]*\).*/\1 \2/p' | sort -n; }
wait_gone() {  # waits until job $1 has left the queue (every task ended)
    for _ in $(seq 1200); do [ -z "$(squeue -h -j "$1" 2>/dev/null)" ] && return 0; sleep 0.5; done
    fail "job $1 still queued after 10 minutes: $(squeue -j "$1")"
}

# --- the array, one task cancelled and one killed, the merge waiting -------------------------------
ARRAY=$(submit --hold --array=1-$SHARDS --cpus-per-task=1 --mem=1G -D "$W/logs" --export="$EXPORT" deploy/slurm/extract-array.sh)
MERGE=$(submit --dependency=afterok:$ARRAY -D "$W/logs" --export="$EXPORT" deploy/slurm/merge.sh)
say "array job $ARRAY ($SHARDS tasks), merge job $MERGE (afterok:$ARRAY)"
scancel "${ARRAY}_2"                       # cancelled before it ever ran
scontrol release "$ARRAY"
KILLED=""
if [ "$DATA" = shared ]; then
    # Kill task 3's tlearn with SIGKILL once it has committed something: its shard database is
    # left half done, and the resubmitted task must resume from it.
    for _ in $(seq 600); do
        pid=$(pgrep -f -- "--shard 3/$SHARDS " | head -1 || true)
        rows=$(sqlite3 "file:$W/shards/part-3.sqlite?mode=ro" "SELECT count(*) FROM embeddings" 2>/dev/null || echo 0)
        if [ -n "$pid" ] && [ "${rows:-0}" -gt 0 ]; then kill -9 "$pid"; KILLED="3 (kill -9 after $rows vectors)"; break; fi
        sleep 0.1
    done
    [ -n "$KILLED" ] || fail "task 3 was never seen running with committed rows"
fi
wait_gone "$ARRAY"
say "array tasks: $(job_states "$ARRAY" | tr '\n' ' ')"
# A pending task cancelled is dropped from the array's records (22.05) or shown CANCELLED.
job_states "$ARRAY" | grep -q '^2 \(COMPLETED\|RUNNING\|PENDING\)' && fail "task 2 should have been cancelled"
[ -f "$W/shards/part-2.sqlite" ] && fail "task 2 was cancelled before it ran, yet its shard exists"
[ -z "$KILLED" ] || job_states "$ARRAY" | grep -q '^3 FAILED' || fail "task 3 should have FAILED after kill -9"
for k in 1 4; do job_states "$ARRAY" | grep -q "^$k COMPLETED" || fail "task $k should have COMPLETED: $(cat "$W"/logs/*_$k.out)"; done
grep -h "^extract: " "$W"/logs/tlearn-extract-*.out | head -2 | sed 's/^/slurm_test:   task log: /'
grep -q "affinity 1)" "$W/logs/tlearn-extract-${ARRAY}_1.out" || fail "task 1 did not see its 1-CPU affinity mask: $(cat "$W/logs/tlearn-extract-${ARRAY}_1.out")"
reason=""
for _ in $(seq 60); do
    reason=$(squeue -h -j "$MERGE" -o '%r' 2>/dev/null || true)
    [ "$reason" = DependencyNeverSatisfied ] && break
    sleep 0.5
done
[ "$reason" = DependencyNeverSatisfied ] || fail "the merge job should wait with DependencyNeverSatisfied, not '$reason'"
say "merge job $MERGE waits: $reason (tasks 2 cancelled${KILLED:+, $KILLED})"

# --- recovery, as docs/scale-out.md says --------------------------------------------------------
AGAIN=2
[ -n "$KILLED" ] && AGAIN=2,3
RETRY=$(submit --array=$AGAIN --cpus-per-task=1 --mem=1G -D "$W/logs" --export="$EXPORT" deploy/slurm/extract-array.sh)
scontrol update JobId="$MERGE" Dependency=afterok:"$RETRY" || fail "scontrol update of the merge's dependency refused"
say "resubmitted tasks $AGAIN as job $RETRY; merge now afterok:$RETRY"
wait_gone "$RETRY"
wait_gone "$MERGE"
say "retry tasks: $(job_states "$RETRY" | tr '\n' ' '); merge: $(scontrol -o show job "$MERGE" | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')"
scontrol -o show job "$MERGE" | grep -q "JobState=COMPLETED" || fail "merge job did not complete: $(cat "$W"/logs/tlearn-merge-*.out)"
cat "$W"/logs/tlearn-merge-*.out | sed 's/^/slurm_test:   merge log: /'

# --- the same shards through the Kubernetes manifest's own command line ----------------------------
python3 scripts/check_k8s_job.py deploy/kubernetes/extract-job.yaml > "$W/k8s-extract.sh" || fail "deploy/kubernetes/extract-job.yaml is not valid"
for i in $(seq 0 $((SHARDS - 1))); do
    env PATH="$W/bin:$PATH" JOB_COMPLETION_INDEX=$i IMAGES="$IMAGES" WEIGHTS="$WEIGHTS" SHARDS_DIR="$W/k8s" SHARDS=$SHARDS \
        /bin/sh -c "$(cat "$W/k8s-extract.sh")" > "$W/k8s/index-$i.out" || fail "the manifest's command failed for index $i"
    sed "s/^/slurm_test:   manifest command, index $i: /" "$W/k8s/index-$i.out"
done
"$TLEARN" merge "$W/k8s-merged.sqlite" "$W"/k8s/part-*.sqlite >/dev/null || fail "merging the Kubernetes shards failed"

# --- one extraction, and the comparison ----------------------------------------------------------
set +e
"$TLEARN" extract --images "$IMAGES" --weights "$WEIGHTS" --quiet --db "$W/one.sqlite" >/dev/null
status=$?
set -e
[ $status -eq 0 ] || [ $status -eq 3 ] || fail "the single extraction exited with $status"
ROWS="SELECT i.path, c.name, i.sha256, i.split, coalesce(e.view, '-'), coalesce(hex(e.vector), '-')
      FROM images i JOIN classes c ON c.id = i.class_id LEFT JOIN embeddings e ON e.image_id = i.id ORDER BY i.path, e.view;
      SELECT path, reason FROM failures ORDER BY path;"
sqlite3 "$W/one.sqlite" "$ROWS" > "$W/one.rows"
n=$(sqlite3 "$W/one.sqlite" "SELECT count(*) FROM embeddings")
[ "$n" -gt 0 ] || fail "the single extraction stored no vectors"
for merged in merged k8s-merged; do
    sqlite3 "$W/$merged.sqlite" "PRAGMA integrity_check" | grep -qx ok || fail "$merged.sqlite fails PRAGMA integrity_check"
    sqlite3 "$W/$merged.sqlite" "$ROWS" > "$W/$merged.rows"
    if ! cmp -s "$W/one.rows" "$W/$merged.rows"; then
        diff "$W/one.rows" "$W/$merged.rows" | cut -c1-160 | head -10 >&2
        fail "$merged.sqlite differs from one extraction"
    fi
done
say "PASSED: merged Slurm shards and Kubernetes shards both equal one extraction: $n of $n vectors bit-identical, with paths, labels, hashes and splits ($DATA data, $SHARDS shards, task 2 cancelled${KILLED:+, task $KILLED} and resubmitted)"
