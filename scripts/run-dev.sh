#!/usr/bin/env bash
# `make run`: migrate the development database, start the Wonde sandbox (unless a real Wonde is
# configured), register the demo school with its URN, link it to the sandbox and read it, give it an app
# roster that partly matches (the first time only), start a worker, serve the API.
set -euo pipefail
bin=.venv/bin
port=${PORT:-8000}
sandbox_port=${SANDBOX_PORT:-8100}
children=()
cleanup() {
  for pid in "${children[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

$bin/bandsync create-db
$bin/alembic upgrade head

if [[ -z ${BANDSYNC_WONDE__BASE_URL:-} ]]; then
  # No real Wonde configured: serve a generated primary school (same seed, same school every time).
  school_file=$(mktemp)
  $bin/bandsync sandbox --port "$sandbox_port" --phase primary --pupils 210 --seed 1 --write-school "$school_file" &
  children+=($!)
  for _ in $(seq 1 60); do [[ -s $school_file ]] && break; sleep 0.5; done
  [[ -s $school_file ]] || { echo "the Wonde sandbox did not start on port $sandbox_port" >&2; exit 1; }
  export BANDSYNC_WONDE__BASE_URL="http://127.0.0.1:$sandbox_port/v1.0"
  read -r wonde_school token urn < <($bin/python -c 'import json, sys; d = json.load(open(sys.argv[1])); print(d["school_id"], d["token"], d["urn"])' "$school_file")
  rm -f "$school_file"
  $bin/bandsync create-school --id demo --name "Demo Primary School" --urn "$urn" --if-missing
  $bin/bandsync connect --school demo --wonde-school "$wonde_school" --token "$token" --domain "127.0.0.1:$sandbox_port"
  $bin/bandsync read --school demo >/dev/null && echo "read the demo school from the sandbox into its MIS mirror"
  # The app's side: bands and accounts that partly match the sandbox's school (once; never again after).
  $bin/bandsync seed-demo --school demo
else
  echo "a real Wonde is configured: register your school with bandsync create-school --id demo --name ... --urn ..."
fi

$bin/arq workers.settings.WorkerSettings &
children+=($!)

cat <<MSG

  bandsync is starting on http://127.0.0.1:$port  (API docs: http://127.0.0.1:$port/docs)
  Wonde: ${BANDSYNC_WONDE__BASE_URL}$([[ $BANDSYNC_WONDE__BASE_URL == http://127.0.0.1:$sandbox_port/* ]] && echo "  (the built-in sandbox; drive it with: bandsync sandbox-admin --url http://127.0.0.1:$sandbox_port --help)")
  a development token (admin of school "demo", 12 hours):

    $($bin/bandsync token --school demo --role admin)

  try: curl -H "Authorization: Bearer <token>" http://127.0.0.1:$port/v1/schools/demo/uploader
       (the uploader's suggestions for the demo school; README.md, "Your first ten minutes", walks the rest)
  the platform (registers schools, confirms Wonde approvals): bandsync token --platform
  metrics: curl http://127.0.0.1:$port/metrics$([[ -n ${BANDSYNC_METRICS_TOKEN:-} ]] && echo '  (with -H "Authorization: Bearer $BANDSYNC_METRICS_TOKEN")')

MSG
$bin/uvicorn app.main:create_app --factory --host 127.0.0.1 --port "$port" --no-access-log
