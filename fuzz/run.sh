#!/usr/bin/env bash
# Builds the libFuzzer targets and runs them.
#
#   fuzz/run.sh TARGET|all [SECONDS]      (default 60 s per target)
#   fuzz/run.sh list                      the target names
#   fuzz/run.sh build                     only build
#
# Each target runs under `nice -n 19` on a working corpus fuzz/.work/TARGET (seeded from
# fuzz/corpus/TARGET, kept between runs, not committed); crashes, leaks and timeouts are written to
# fuzz/artifacts/TARGET/. Extra libFuzzer flags can be passed in FUZZ_ARGS (e.g. FUZZ_ARGS=-jobs=2).
# The last line per target is the summary: executions, coverage (cov = edges, ft = features),
# corpus size, and whether it found a problem. The exit status is non-zero if any target did.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
targets=(tokenizer framing yaml condition rules render decoder)

dict_for() {
    case "$1" in
        tokenizer | framing | render | decoder) echo "$here/dict/json.dict" ;;
        yaml | rules) echo "$here/dict/yaml.dict" ;;
        condition) echo "$here/dict/condition.dict" ;;
    esac
}

build() {
    # Other people edit the main package's sources (which this package compiles through symlinks):
    # a build that saw a file change under it is simply retried.
    local attempt log
    log="$(mktemp)"
    for attempt in 1 2 3 4 5; do
        if nice -n 19 swift build -c release --package-path "$here" \
            -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -use-ld=lld >"$log" 2>&1; then
            rm -f "$log"
            return 0
        fi
        if grep -q "modified during the build" "$log"; then
            echo "build: a source changed during the build; retrying ($attempt)" >&2
            sleep 10
            continue
        fi
        cat "$log" >&2
        rm -f "$log"
        return 1
    done
    cat "$log" >&2
    rm -f "$log"
    return 1
}

run_target() {
    local name="$1" seconds="$2"
    local bin="$here/.build/release/fuzz-$name"
    local work="$here/.work/$name" artifacts="$here/artifacts/$name"
    local log="$here/.work/$name.log"
    mkdir -p "$work" "$artifacts"
    local status=0
    # shellcheck disable=SC2086
    SWIFT_BACKTRACE=enable=no nice -n 19 "$bin" "$work" "$here/corpus/$name" \
        -dict="$(dict_for "$name")" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -artifact_prefix="$artifacts/" -print_final_stats=1 ${FUZZ_ARGS:-} >"$log" 2>&1 || status=$?
    local last runs cov ft corp
    last="$(grep -E '^#[0-9]+' "$log" | tail -1 || true)"
    runs="$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' || true)"
    cov="$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")"
    ft="$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")"
    corp="$(sed -nE 's/.* corp: ([0-9]+\/[0-9]+[a-zA-Z]*).*/\1/p' <<<"$last")"
    if [ "$status" -ne 0 ]; then
        echo "--- fuzz-$name found a problem (exit $status); log: $log" >&2
        grep -E 'ERROR: |FUZZ INVARIANT|SUMMARY|Test unit written|Fatal error|==[0-9]+==' "$log" | head -20 >&2 || true
    fi
    printf '%-10s %6ss  execs %-10s cov %-6s ft %-7s corpus %-12s %s\n' \
        "$name" "$seconds" "${runs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" \
        "$([ "$status" -eq 0 ] && echo ok || echo "PROBLEM (see $artifacts)")"
    return "$status"
}

what="${1:-}"
seconds="${2:-60}"
case "$what" in
    list) printf '%s\n' "${targets[@]}"; exit 0 ;;
    build) build; exit $? ;;
    all) selected=("${targets[@]}") ;;
    "") echo "usage: fuzz/run.sh TARGET|all|list|build [SECONDS]" >&2; exit 2 ;;
    *)
        if [[ " ${targets[*]} " != *" $what "* ]]; then
            echo "unknown target '$what'; targets: ${targets[*]}" >&2
            exit 2
        fi
        selected=("$what")
        ;;
esac

build
failed=0
for name in "${selected[@]}"; do
    run_target "$name" "$seconds" || failed=1
done
exit "$failed"
