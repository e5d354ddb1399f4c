#!/usr/bin/env bash
# Two engines on one PostgreSQL database, as beside two MCF backend
# replicas: a client submits invoices through both, one engine is killed
# (kill -9) while it sends, and the other sends what it had claimed once its
# leases run out. Every invoice reaches Inqom; the demo says how many times.
set -euo pipefail
cd "$(dirname "$0")/.."

source clients/engine-binary.sh

WORK=$(mktemp -d /tmp/pushdoc-cluster-XXXXXX)
chmod 755 "$WORK"
echo "demo directory: $WORK"
PIDS=()
cleanup() {
    kill "${PIDS[@]}" 2>/dev/null || true
    [ -n "${PGCTL:-}" ] && as_postgres "$PGCTL" -D "$WORK/pg/data" -m fast -w stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

# PostgreSQL refuses to run as root: as its own user then.
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
BIN=$(pg_config --bindir)
PGCTL=$BIN/pg_ctl
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
PASSWORD=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
mkdir -p "$WORK/pg"
echo "$PASSWORD" > "$WORK/pg/password"
[ "$(id -u)" = 0 ] && chown -R postgres "$WORK/pg"
as_postgres "$BIN/initdb" -D "$WORK/pg/data" -U pushdoc --auth=scram-sha-256 --pwfile="$WORK/pg/password" -E UTF8 >/dev/null
as_postgres "$PGCTL" -D "$WORK/pg/data" -l "$WORK/pg/log" -w -o "-p $PORT -k $WORK/pg -c listen_addresses=127.0.0.1" start >/dev/null
echo "PostgreSQL on 127.0.0.1:$PORT"

python3 Tests/InqomStandIn/inqom_standin.py --world protocol/world.json --latency 0.3 > "$WORK/standin.out" 2> "$WORK/standin.err" < /dev/null &
PIDS+=($!)
for _ in $(seq 50); do [ -s "$WORK/standin.out" ] && break; sleep 0.1; done
INQOM=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$WORK/standin.out")
echo "Inqom stand-in (answering in 0.3 s): $INQOM"

# The deployment's master key, the same for both engines; the password from the environment, not the URI.
python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())' > "$WORK/master.key"
chmod 600 "$WORK/master.key"
export PGPASSWORD=$PASSWORD
STORE="postgresql://pushdoc@127.0.0.1:$PORT/postgres"
start_engine() {  # $1: node name
    "$ENGINE" serve --socket "$WORK/$1.sock" --data-dir "$WORK/$1" --store "$STORE" --node-id "$1" \
        --master-key-file "$WORK/master.key" --lease-seconds 5 --workers 4 \
        --inqom-auth-url "$INQOM" --inqom-api-url "$INQOM" --log-level warning 2> "$WORK/$1.err" &
    PIDS+=($!)
    disown $!  # its kill -9 is the demo's own doing: no "Killed" from the shell
    for _ in $(seq 100); do [ -S "$WORK/$1.sock" ] && break; sleep 0.1; done
}
start_engine engine-a
ENGINE_A=${PIDS[-1]}
start_engine engine-b
echo "two engines: engine-a (pid $ENGINE_A) and engine-b, on sockets, one database"

python3 - "$WORK" "$ENGINE_A" <<'PY'
import json, os, signal, sys, time, urllib.request
sys.path.insert(0, "clients")
from pushdoc_client import Engine

work, engine_a_pid = sys.argv[1], int(sys.argv[2])
a, b = Engine(socket_path=work + "/engine-a.sock"), Engine(socket_path=work + "/engine-b.sock")
inqom = json.load(open(work + "/standin.out"))["url"]

# The wizard through engine-a; engine-b sees the same connector at once.
a.call("catalog.upsertDossiers", dossiers=[{"id": "boulangerie", "name": "Boulangerie Martin", "attributes": {"SIRET": "73282932000074"}}])
a.call("wizard.selectDossiers", ids=["boulangerie"], selected=True)
a.call("wizard.connect", login="cabinet@example.fr", password="demo-password", clientSecret="demo-client-secret")
a.call("wizard.mapDossiers", siretAttribute="SIRET")
a.call("rules.add", depositPath="Achats", documentType="facture_achat", period="any")
a.call("wizard.finish")
print("engine-b sees the connector as %s" % b.call("status.summary")["connector"]["state"])

b.call("events.subscribe")
invoices = ["Achats/Facture %03d.pdf" % n for n in range(1, 31)]
for n, path in enumerate(invoices):
    engine = a if n % 2 == 0 else b
    engine.call("push.submit", dossierId="boulangerie", path=path,
                contentBase64=__import__("base64").b64encode(("invoice %d" % n).encode()).decode())
print("30 invoices submitted, alternately through engine-a and engine-b")

# Once a few went, engine-a dies with uploads under way.
sent = 0
while sent < 6:
    event = b.events.get(timeout=30)
    if event and event["type"] == "document.transmitted":
        sent += 1
os.kill(engine_a_pid, signal.SIGKILL)
killed = time.monotonic()
print("engine-a killed (kill -9) after %d transmissions seen from engine-b" % sent)

summary = b.call("push.drain", timeoutMs=60000)
print("engine-b: every document settled %.1f s after the kill: %s" % (time.monotonic() - killed, summary["documents"]))
uploads = json.load(urllib.request.urlopen(inqom + "/_standin/uploads"))
received = {}
for upload in uploads:
    received[upload["fileName"]] = received.get(upload["fileName"], 0) + 1
once = sum(1 for path in invoices if received.get(path.split("/")[-1]) == 1)
twice = sorted(name for name, count in received.items() if count > 1)
print("Inqom received %d uploads: %d invoices once, %d twice (uploads engine-a had under way: Inqom answered Duplicate) %s"
      % (len(uploads), once, len(twice), twice))
assert all(received.get(path.split("/")[-1], 0) >= 1 for path in invoices), "an invoice never reached Inqom"
assert summary["documents"]["transmitted"] == len(invoices)
assert len(twice) <= 4, "more duplicates than engine-a had uploads under way"
PY
