#!/bin/bash
#SBATCH --job-name=tlearn-merge
#SBATCH --cpus-per-task=1
#SBATCH --mem=2G
#SBATCH --output=tlearn-merge-%j.out
# Combines the shard databases of extract-array.sh once every task has succeeded:
#   sbatch --dependency=afterok:<array job id> deploy/slurm/merge.sh
# Same settings as extract-array.sh (SHARDS_DIR, SHARDS, TLEARN), plus DB, the database to create.
set -u
SHARDS_DIR=${SHARDS_DIR:-/scratch/shards}
SHARDS=${SHARDS:-8}
DB=${DB:-/data/flowers.sqlite}
TLEARN=${TLEARN:-tlearn}

# `tlearn merge` only warns about a missing shard; here a missing one means a task never ran.
parts=()
for k in $(seq 1 "$SHARDS"); do
    part="$SHARDS_DIR/part-$k.sqlite"
    [ -f "$part" ] || { echo "error: $part is missing: shard $k never ran (docs/scale-out.md, recovery)" >&2; exit 1; }
    parts+=("$part")
done
exec "$TLEARN" merge "$DB" "${parts[@]}"
