#!/usr/bin/env bash
# `make run`: migrate the development database, start a worker, serve the API, print how to call it.
set -euo pipefail
bin=.venv/bin
port=${PORT:-8000}

$bin/bandsync create-db
$bin/alembic upgrade head
$bin/bandsync create-school --id demo --name "Demo Primary School" --if-missing

$bin/arq workers.settings.WorkerSettings &
worker=$!
trap 'kill "$worker" 2>/dev/null; wait "$worker" 2>/dev/null' EXIT INT TERM

cat <<MSG

  bandsync is starting on http://127.0.0.1:$port  (API docs: http://127.0.0.1:$port/docs)
  a development token (admin of school "demo", 12 hours):

    $($bin/bandsync token --school demo --role admin)

  try: curl -H "Authorization: Bearer <token>" http://127.0.0.1:$port/v1/schools/demo

MSG
$bin/uvicorn app.main:create_app --factory --host 127.0.0.1 --port "$port"
