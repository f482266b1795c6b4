#!/usr/bin/env bash
# Side-by-side throughput: graphile-worker (fastest mode) against rjobs's flow_ack benchmark,
# interleaved in rounds on this machine. See bench/peers/README.md.
#
#   bash bench/peers/run.sh
#   COUNTS=30000 RUNS=1 bash bench/peers/run.sh
#
# Exits 0 whatever the ratios are (it is a benchmark); non-zero only when a run fails.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

COUNTS=${COUNTS:-"30000 100000"}
RUNS=${RUNS:-3}
GW_CONCURRENCY=${GW_CONCURRENCY:-"10 100"}
RJOBS_CONCURRENCY=${RJOBS_CONCURRENCY:-100}
RJOBS_BACKENDS=${RJOBS_BACKENDS:-"sqlite postgres"}
SKIP_RJOBS=${SKIP_RJOBS:-0}       # 1: graphile-worker only (no cargo build, no ratios)
SKIP_GRAPHILE=${SKIP_GRAPHILE:-0} # 1: rjobs only (no ratios)
SKIP_BUILD=${SKIP_BUILD:-0}       # 1: use the flow_ack already in target/release (no cargo build)
TARGET_RATIO=${TARGET_RATIO:-1.5}
RUN_TIMEOUT=${RUN_TIMEOUT:-900}   # seconds allowed for any one run
PGHOST_=127.0.0.1
PGPORT_=5432
PGUSER_=postgres
OUT=${BENCH_OUT:-$(mktemp -d /tmp/rjobs-peers.XXXXXX)}
mkdir -p "$OUT"
RESULTS="$OUT/results.tsv" # system, setting, N, round, rate
: >"$RESULTS"

die() {
  echo "run.sh: $*" >&2
  exit 1
}

for tool in node npm pg_isready createdb dropdb timeout awk; do
  command -v "$tool" >/dev/null || die "'$tool' is not installed"
done

# --- PostgreSQL -------------------------------------------------------------------------------
if ! pg_isready -h "$PGHOST_" -p "$PGPORT_" -q; then
  (cd "$ROOT" && bash scripts/ensure-postgres)
fi
pg_isready -h "$PGHOST_" -p "$PGPORT_" -q || die "PostgreSQL is not up on $PGHOST_:$PGPORT_"

# --- graphile-worker --------------------------------------------------------------------------
if [[ $SKIP_GRAPHILE != 1 ]]; then
  if [[ ! -d $HERE/node_modules/graphile-worker ]]; then
    echo "== installing graphile-worker (npm) in bench/peers"
    if [[ -f $HERE/package-lock.json ]]; then
      (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error)
    else
      (cd "$HERE" && npm install --no-audit --no-fund --loglevel=error)
    fi
  fi
  GW_VERSION=$(node -p "require('$HERE/node_modules/graphile-worker/package.json').version")
fi

# --- rjobs ------------------------------------------------------------------------------------
FLOW_ACK="${CARGO_TARGET_DIR:-$ROOT/target}/release/flow_ack"
if [[ $SKIP_RJOBS != 1 ]]; then
  if [[ $SKIP_BUILD == 1 ]]; then
    echo "== using the existing $FLOW_ACK (SKIP_BUILD=1; it may be older than the source)"
  else
    command -v cargo >/dev/null || die "'cargo' is not installed"
    echo "== building rjobs flow_ack (release)"
    (cd "$ROOT" && cargo build --release -p rjobs-bench --bin flow_ack) ||
      die "cargo build of flow_ack failed (SKIP_RJOBS=1 runs graphile-worker alone)"
  fi
  [[ -x $FLOW_ACK ]] || die "$FLOW_ACK is missing"
fi

# --- one run of each system -------------------------------------------------------------------
GW_DB=""
cleanup() {
  if [[ -n $GW_DB ]]; then
    dropdb -h "$PGHOST_" -p "$PGPORT_" -U "$PGUSER_" --if-exists "$GW_DB" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

run_graphile() { # N C round
  local n=$1 c=$2 round=$3 log rate
  log="$OUT/graphile-n$n-c$c-r$round.log"
  GW_DB="gw_bench_$(date +%s)_${RANDOM}${RANDOM}"
  createdb -h "$PGHOST_" -p "$PGPORT_" -U "$PGUSER_" "$GW_DB"
  if ! timeout "$RUN_TIMEOUT" node "$HERE/graphile.mjs" --count "$n" --concurrency "$c" \
    --timeout "$((RUN_TIMEOUT - 30))" \
    --database "postgres://$PGUSER_@$PGHOST_:$PGPORT_/$GW_DB" >"$log" 2>&1; then
    cat "$log" >&2
    die "graphile-worker run failed (N=$n concurrency=$c round $round); log: $log"
  fi
  dropdb -h "$PGHOST_" -p "$PGPORT_" -U "$PGUSER_" "$GW_DB"
  GW_DB=""
  rate=$(sed -nE 's/^graphile-worker: .* jobs\/s=([0-9.]+) .*/\1/p' "$log")
  [[ -n $rate ]] || die "no result line in $log"
  printf 'graphile-worker\tconcurrency=%s\t%s\t%s\t%s\n' "$c" "$n" "$round" "$rate" >>"$RESULTS"
  printf '   graphile-worker  N=%-7s concurrency=%-4s %9s jobs/s\n' "$n" "$c" "$rate"
}

run_rjobs() { # N backend round
  local n=$1 db=$2 round=$3 log line rate
  log="$OUT/rjobs-$db-n$n-r$round.log"
  if ! timeout "$RUN_TIMEOUT" "$FLOW_ACK" --count "$n" --concurrency "$RJOBS_CONCURRENCY" \
    --database "$db" >"$log" 2>&1; then
    cat "$log" >&2
    die "rjobs flow_ack run failed (N=$n database=$db round $round); log: $log"
  fi
  line=$(grep -E '^flow_ack: ' "$log" | tail -n1 || true)
  [[ $line == *'status "completed"'* ]] || {
    cat "$log" >&2
    die "flow_ack did not end with status \"completed\"; log: $log"
  }
  rate=$(sed -nE 's/.* ([0-9.]+) iterations\/s.*/\1/p' <<<"$line")
  [[ -n $rate ]] || die "no 'iterations/s' figure in $log"
  printf 'rjobs\t%s c=%s\t%s\t%s\t%s\n' "$db" "$RJOBS_CONCURRENCY" "$n" "$round" "$rate" >>"$RESULTS"
  printf '   rjobs            N=%-7s %-8s c=%-4s %9s iterations/s\n' "$n" "$db" "$RJOBS_CONCURRENCY" "$rate"
}

echo "== results and logs in $OUT"
[[ $SKIP_GRAPHILE == 1 ]] || echo "== graphile-worker $GW_VERSION on node $(node --version)"
for n in $COUNTS; do
  for round in $(seq 1 "$RUNS"); do
    echo "== N=$n round $round/$RUNS"
    # Alternate which system goes first so drift on the machine does not favour one of them.
    if ((round % 2 == 1)); then order="graphile rjobs"; else order="rjobs graphile"; fi
    for sys in $order; do
      if [[ $sys == graphile && $SKIP_GRAPHILE != 1 ]]; then
        for c in $GW_CONCURRENCY; do run_graphile "$n" "$c" "$round"; done
      elif [[ $sys == rjobs && $SKIP_RJOBS != 1 ]]; then
        for db in $RJOBS_BACKENDS; do run_rjobs "$n" "$db" "$round"; done
      fi
    done
  done
done

# --- summary ----------------------------------------------------------------------------------
echo
echo "== raw figures (per run)"
awk -F'\t' '{ printf "   %-16s %-18s N=%-7s round %-3s %s/s\n", $1, $2, $3, $4, $5 }' "$RESULTS"

echo
echo "== medians of $RUNS run(s) (graphile-worker: jobs/s; rjobs: iterations/s)"
awk -F'\t' -v target="$TARGET_RATIO" '
  function median(key,   n, i, j, t, a) {
    n = split(vals[key], a, " ")
    for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  {
    key = $3 SUBSEP $1 SUBSEP $2
    if (!(key in vals)) { order[++nk] = key; vals[key] = $5 } else vals[key] = vals[key] " " $5
    if (!($3 in seenN)) { seenN[$3] = 1; ns[++nn] = $3 }
  }
  END {
    printf "   %-8s %-16s %-18s %10s   %s\n", "N", "system", "setting", "median/s", "runs"
    for (k = 1; k <= nk; k++) {
      split(order[k], p, SUBSEP); m = median(order[k]); med[order[k]] = m
      printf "   %-8s %-16s %-18s %10.0f   %s\n", p[1], p[2], p[3], m, vals[order[k]]
      if (p[2] == "graphile-worker" && m > best[p[1]]) { best[p[1]] = m; bestset[p[1]] = p[3] }
      if (p[2] == "rjobs") { rj[p[1], p[3]] = m; rjlist[p[1]] = rjlist[p[1]] SUBSEP p[3] }
    }
    printed = 0
    for (i = 1; i <= nn; i++) {
      n = ns[i]
      if (!(n in best) || !(n in rjlist)) continue
      if (!printed) {
        printf "\n== ratios: rjobs / best graphile-worker median (target >= %s)\n", target
        printf "   %-8s %-48s %7s  %s\n", "N", "ratio", "value", "verdict"
        printed = 1
      }
      cnt = split(substr(rjlist[n], 2), sets, SUBSEP)
      for (s = 1; s <= cnt; s++) {
        r = rj[n, sets[s]] / best[n]
        split(sets[s], b, " ")
        label = sprintf("rjobs-%s / graphile-worker(%s)", b[1], bestset[n])
        printf "   %-8s %-48s %7.2f  %s\n", n, label, r, (r >= target ? "PASS" : "MISS")
      }
    }
    if (!printed) print "\n== no ratios (one of the systems was skipped)"
  }' "$RESULTS"
echo
echo "== logs: $OUT"
