#!/usr/bin/env bash
# Real vendor logs (../shared/corpus/logs) with IOCs from the real feeds
# (../shared/corpus/iocs) planted in them: every event equals the truth
# computed by scripts/iocref.py, at two slab sizes; the untouched corpus
# scans without error. Skipped when ../shared is absent.
. "$(dirname "$0")/lib_e2e.sh"

corpus="$S/../shared/corpus"
if [ ! -d "$corpus/logs" ]; then
    echo "e2e_corpus: $corpus absent, skipped"
    exit 77
fi

python3 "$S/scripts/plant_corpus.py" --corpus "$corpus" --out "$W/p" --seed 5
for slab in 1M 100; do
    run "$B" scan -i "$W/p/iocs.txt" --slab-size "$slab" --format json \
        "$W/p/logs" >"$W/ev.jsonl"
    expect_status 0 "planted corpus, slab $slab"
    python3 "$S/scripts/truthcheck.py" -q --truth "$W/p/truth.jsonl" \
        --events "$W/ev.jsonl" --root "$W/p" ||
        fail "planted corpus events differ at slab $slab"
done

# The untouched corpus with the built-in pack: no error, no crash.
run "$B" scan --format json "$corpus/logs" >"$W/raw.jsonl"
[ "$rc" -le 1 ] || fail "scan of the corpus logs exited $rc"
python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' \
    "$W/raw.jsonl"
echo "e2e_corpus: ok"
