#!/bin/bash
#SBATCH --job-name=tlearn-extract
#SBATCH --array=1-8
#SBATCH --cpus-per-task=2
#SBATCH --mem=1G
#SBATCH --output=tlearn-extract-%A_%a.out
# One shard of a dataset per array task; docs/scale-out.md has the whole recipe and the recovery.
#
#   jid=$(sbatch --parsable deploy/slurm/extract-array.sh)
#   sbatch --dependency=afterok:$jid deploy/slurm/merge.sh
#
# Settings come from the environment (sbatch passes it on), e.g.
#   sbatch --export=ALL,IMAGES=/data/flowers,WEIGHTS=/data/mnv2.h5,SHARDS_DIR=/scratch/shards deploy/slurm/extract-array.sh
# SHARDS must equal the top of --array: a task resubmitted alone (--array=5) still has to know the
# shard count, which is why it is not taken from SLURM_ARRAY_TASK_COUNT.
set -u
IMAGES=${IMAGES:-/data/flowers}
WEIGHTS=${WEIGHTS:-/data/mnv2.h5}
SHARDS_DIR=${SHARDS_DIR:-/scratch/shards}
SHARDS=${SHARDS:-8}
TLEARN=${TLEARN:-tlearn}
k=${SLURM_ARRAY_TASK_ID:?submit with sbatch (an array task needs SLURM_ARRAY_TASK_ID)}

mkdir -p "$SHARDS_DIR" || exit 1
# A rerun of a killed task resumes from its last committed batch in the same shard database.
"$TLEARN" extract --images "$IMAGES" --weights "$WEIGHTS" --quiet --verbose --threads "${SLURM_CPUS_PER_TASK:-1}" \
    --shard "$k/$SHARDS" --db "$SHARDS_DIR/part-$k.sqlite"
status=$?
# 3: the run completed but some files failed (rows in `failures`, kept in the merge); the rest is stored.
[ $status -eq 3 ] && exit 0
exit $status
