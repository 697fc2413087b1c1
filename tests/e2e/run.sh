#!/usr/bin/env bash
# Real-browser end-to-end tests of the passkey pages.
#
# Builds `civitas`, starts it on a free port with a fresh SQLite database,
# waits for /readyz, then runs tests/e2e/*.test.mjs (node:test) against
# http://localhost:PORT with Debian's Chromium driven by playwright-core.
# Screenshots and the server log go to tests/e2e/output/.
#
# Usage: tests/e2e/run.sh [extra node --test arguments, e.g. --test-name-pattern=...]
# Environment:
#   CARGO_TARGET_DIR  where cargo builds (default <repo>/target)
#   CIVITAS_BIN       use this civitas binary instead of building one
#   CHROMIUM_PATH     browser executable (default /usr/bin/chromium)
# Needs: node >= 20 with npm, chromium (apt-get install -y chromium), cargo.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="$here/output"
mkdir -p "$out"

log() { echo "== e2e: $*"; }
die() { echo "e2e: $*" >&2; exit 1; }

command -v node >/dev/null || die "node is not installed"
command -v npm >/dev/null || die "npm is not installed"
export CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"
[[ -x "$CHROMIUM_PATH" ]] || die "no browser at $CHROMIUM_PATH (apt-get install -y chromium)"

# --- node_modules: npm ci when missing or made from another lockfile --------
stamp="$here/node_modules/.civitas-e2e-stamp"
want="$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -d' ' -f1)"
if [[ ! -d "$here/node_modules/playwright-core" || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  log "npm ci"
  # playwright-core downloads nothing at install; this makes sure of it.
  (cd "$here" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
  echo "$want" >"$stamp"
fi

# --- the server binary -------------------------------------------------------
if [[ -n "${CIVITAS_BIN:-}" ]]; then
  bin="$CIVITAS_BIN"
else
  log "cargo build --bin civitas"
  (cd "$repo" && cargo build --bin civitas)
  target="${CARGO_TARGET_DIR:-$repo/target}"
  [[ "$target" = /* ]] || target="$repo/$target" # cargo resolves it from $repo
  bin="$target/debug/civitas"
fi
[[ -x "$bin" ]] || die "no civitas binary at $bin"

# --- start it ----------------------------------------------------------------
port="$(node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });')"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/civitas-e2e.XXXXXX")"
server_pid=""

cleanup() {
  local status=$?
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

url="http://localhost:$port"
log "starting $bin on 127.0.0.1:$port (issuer $url), log in $out/server.log"
# Run from the temp dir with a config path that does not exist there, so no
# civitas.toml (of the repo or of CIVITAS_CONFIG) leaks in.
(
  cd "$tmp"
  NO_COLOR=1 exec "$bin" --config "$tmp/civitas.toml" serve \
    --database-url "sqlite://$tmp/civitas.db" \
    --listen "127.0.0.1:$port" \
    --issuer "$url"
) >"$out/server.log" 2>&1 &
server_pid=$!

# HTTP status of GET /readyz, or 000.
probe() {
  if command -v curl >/dev/null; then
    curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/readyz" || true
  else
    node -e 'fetch(process.argv[1], { signal: AbortSignal.timeout(2000) }).then((r) => console.log(r.status), () => console.log("000"))' \
      "http://127.0.0.1:$port/readyz"
  fi
}

ready=""
code=""
deadline=$((SECONDS + 30))
while ((SECONDS < deadline)); do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "e2e: civitas exited before it was ready; its log:" >&2
    tail -n 50 "$out/server.log" >&2 || true
    exit 1
  fi
  code="$(probe)"
  if [[ "$code" == "200" ]]; then
    ready=1
    break
  fi
  sleep 0.1
done
if [[ -z "$ready" ]]; then
  echo "e2e: civitas did not answer 200 on /readyz within 30 s (last status: ${code:-none}); its log:" >&2
  tail -n 50 "$out/server.log" >&2 || true
  exit 1
fi
log "ready at $url"

# --- the tests -----------------------------------------------------------------
status=0
(cd "$repo" && CIVITAS_URL="$url" node --test "$@" tests/e2e/*.test.mjs) || status=$?
log "node --test exited with $status; screenshots in $out"
exit "$status"
