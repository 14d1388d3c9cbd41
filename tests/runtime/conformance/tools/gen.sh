#!/bin/bash
# gen.sh prog.dml... : regenerate NAME.out next to each program (cwd = program dir).
# Uses run_dml.sh from the same directory; SCRATCH in a "# args:" line becomes a fresh temp dir.
HERE="$(cd "$(dirname "$0")" && pwd)"
for f in "$@"; do
  d=$(cd "$(dirname "$f")" && pwd); b=$(basename "$f" .dml)
  first=$(head -1 "$f")
  args=()
  if [[ "$first" == "# args: "* ]]; then
    scratch=$(mktemp -d)
    eval "args=(${first#\# args: })"
    for i in "${!args[@]}"; do args[$i]="${args[$i]//SCRATCH/$scratch}"; done
  fi
  ( cd "$d" && "$HERE/run_dml.sh" "$b.dml" "${args[@]}" > "$b.out.tmp" 2> "$b.err.tmp" )
  rc=$?
  if [ $rc -ne 0 ]; then echo "FAIL $f rc=$rc"; cat "$d/$b.err.tmp" | head -8; rm -f "$d/$b.out.tmp"; else mv "$d/$b.out.tmp" "$d/$b.out"; echo "ok $f"; fi
  rm -f "$d/$b.err.tmp"
  if [ -n "$scratch" ] && grep -q "$scratch" "$d/$b.out" 2>/dev/null; then echo "PATH LEAK in $f"; fi
  scratch=""
done
