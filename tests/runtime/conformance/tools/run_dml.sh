#!/bin/bash
# Usage: run_dml.sh file.dml [extra SystemDS args, e.g. -nvargs a=1 | -args x y]
# Prints only the DML program's own stdout. log4j logging is switched off, the
# trailing "SystemDS Statistics:" block is removed, and SystemDS's error block
# (which SystemDS prints to STDOUT in red and then exits 0!) is moved to stderr
# and turned into exit code 1. Runs with -exec singlenode (the pip package lacks
# spark-unsafe, so the parfor optimizer crashes in the default hybrid mode).
SDS="${SYSTEMDS_HOME:-/tmp/sysds/venv/lib/python3.11/site-packages/systemds}"
HERE="$(cd "$(dirname "$0")" && pwd)"
f="$1"; shift
set -o pipefail
java -Xmx4g --add-modules=jdk.incubator.vector \
  -Dlog4j.configuration=file:"$HERE/log4j-off.properties" \
  -Dlog4j.configurationFile="$HERE/log4j2-off.properties" \
  -cp "$SDS/SystemDS.jar:$SDS/lib/*" org.apache.sysds.api.DMLScript -exec singlenode -config "$HERE/sysds-config.xml" -f "$f" "$@" \
  2> >(grep -v -E '^WARNING: Using incubator modules' >&2) \
| python3 "$HERE/filter_out.py"
