#!/usr/bin/env bash
# A device call carries every tracked file plus what `carry` names, 64 MiB in all. The committed
# leaderboard runs and report site (about 55 MB) and the staged CIFAR-10 (about 28 MB) do not fit
# together, and no device check needs the runs or the site. So, around the device calls:
#     bash benchmarks/device-tree.sh slim      # untrack them in the index only (files stay on disk)
#     ... run(command="bash benchmarks/gpu-checks.sh PART", carry=["gpu-stage"]) ...
#     bash benchmarks/device-tree.sh restore   # the index as HEAD has it again
# Commit nothing in between (the slim index would record the runs as deleted).
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
EXCLUDE=$(git rev-parse --git-path info/exclude)
MARK="# dgmbench device-tree slim"
case "${1:-}" in
  slim)
    printf '%s\nleaderboards/site/\nleaderboards/**/runs/\n' "$MARK" >> "$EXCLUDE"
    git rm -r -q --cached -- leaderboards/site ':(glob)leaderboards/**/runs/**'
    echo "tracked now: $(git ls-files | tr '\n' '\0' | xargs -0 du -cb | tail -1 | cut -f1) bytes" ;;
  restore)
    git reset -q -- leaderboards
    sed -i "/^$MARK\$/,+2d" "$EXCLUDE"
    git status --short | head -5 ;;
  *) echo "usage: bash benchmarks/device-tree.sh slim|restore" >&2; exit 2 ;;
esac
