#!/usr/bin/env bash
# The Pushdoc demo: an Inqom stand-in, one engine, and the sample client
# playing MCF's backend for two accounting firms side by side, each with its
# own Inqom account, dossiers and invoices. One file is a program Inqom
# refuses, so that "Non transmis" shows.
set -euo pipefail
cd "$(dirname "$0")/.."

source clients/engine-binary.sh

WORK=$(mktemp -d /tmp/pushdoc-demo-XXXXXX)
ROOT=$WORK/mcf
YEAR=$(TZ=Europe/Paris date +%Y)
MONTH=$(TZ=Europe/Paris date +%m)
echo "demo directory: $WORK"

# Inqom's side (protocol/world.json): each firm's account and the accounting folders it sees.
python3 Tests/InqomStandIn/inqom_standin.py --world protocol/world.json > "$WORK/standin.out" 2> "$WORK/standin.err" < /dev/null &
STANDIN=$!
trap 'kill $STANDIN 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -s "$WORK/standin.out" ] && break; sleep 0.1; done
INQOM=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$WORK/standin.out")
echo "Inqom stand-in: $INQOM"

# MCF's side: dossiers (one without a SIRET), and documents in the deposit folders.
mkdir -p "$ROOT"
cat > "$ROOT/dossiers.json" <<'EOF'
[{"id": "boulangerie", "name": "Boulangerie Martin", "attributes": {"SIRET": "732 829 320 00074"}},
 {"id": "hotel", "name": "Hôtel du Port", "attributes": {"SIRET": "552 100 554 00013"}},
 {"id": "garage", "name": "Garage Dupré", "attributes": {"SIRET": "44306184100047"}},
 {"id": "nouveau", "name": "Nouveau client", "attributes": {}}]
EOF
pdf() {  # a small valid PDF whose page says $2
    python3 - "$1" "$2" <<'PY'
import sys
text = sys.argv[2].encode("latin-1", "replace")
stream = b"BT /F1 14 Tf 72 720 Td (" + text + b") Tj ET"
objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
           b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
           b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
           b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
out, offsets = b"%PDF-1.4\n", []
for number, body in enumerate(objects, 1):
    offsets.append(len(out))
    out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
xref = len(out)
out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1) + b"".join(b"%010d 00000 n \n" % o for o in offsets)
out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
open(sys.argv[1], "wb").write(out)
PY
}
for dossier in boulangerie hotel garage nouveau; do
    mkdir -p "$ROOT/$dossier/Achats/$YEAR/$MONTH" "$ROOT/$dossier/Ventes" "$ROOT/$dossier/Notes de frais"
done
pdf "$ROOT/boulangerie/Achats/$YEAR/$MONTH/Facture Minoterie 0423.pdf" "Facture Minoterie Dupont 1 240,00 EUR"
pdf "$ROOT/boulangerie/Achats/$YEAR/$MONTH/Facture EDF.pdf" "Facture EDF 318,20 EUR"
pdf "$ROOT/boulangerie/Ventes/Facture client 2026-117.pdf" "Facture de vente 2026-117"
pdf "$ROOT/hotel/Achats/$YEAR/$MONTH/Blanchisserie.pdf" "Blanchisserie du Port 880,00 EUR"
pdf "$ROOT/hotel/Notes de frais/Taxi gare.pdf" "Note de frais taxi 32,50 EUR"
pdf "$ROOT/garage/Achats/$YEAR/$MONTH/Pieces detachees.pdf" "Pieces detachees 2 015,90 EUR"
printf 'MZ not an invoice' > "$ROOT/garage/Achats/$YEAR/$MONTH/installeur.exe"
pdf "$ROOT/nouveau/Achats/$YEAR/$MONTH/Premiere facture.pdf" "Premiere facture"

# The wizard, as an administrator fills it in.
cat > "$WORK/config.json" <<'EOF'
{"dossierQuery": "", "login": "cabinet@example.fr", "password": "demo-password", "clientSecret": "demo-client-secret",
 "siretAttribute": "SIRET",
 "rules": [
   {"depositPath": "Achats/{millésime}/{mois}", "documentType": "facture_achat", "archivePath": "Achats/Envoyés/{millésime}"},
   {"depositPath": "Ventes", "documentType": "facture_vente", "archivePath": "Ventes/Envoyés", "period": "any"},
   {"depositPath": "Notes de frais", "documentType": "note_de_frais", "archivePath": "Notes de frais/Envoyées", "period": "any"}]}
EOF

# A second firm, Durand Expertise: its own tree, where a dossier has the
# same id as one of the first firm's ("boulangerie"), and its own login.
ROOT2=$WORK/mcf-durand
mkdir -p "$ROOT2/boulangerie/Achats/$YEAR/$MONTH"
echo '[{"id": "boulangerie", "name": "Pharmacie des Quais", "attributes": {"SIRET": "54210765100011"}}]' > "$ROOT2/dossiers.json"
pdf "$ROOT2/boulangerie/Achats/$YEAR/$MONTH/Grossiste.pdf" "Grossiste pharmaceutique 4 310,00 EUR"
sed -e 's/cabinet@example.fr/durand-expertise@example.fr/' -e 's/demo-password/durand-password/' "$WORK/config.json" > "$WORK/config-durand.json"

# One engine on a socket, as beside an MCF backend replica; each firm's backend names its connector.
"$ENGINE" serve --socket "$WORK/engine.sock" --data-dir "$WORK/data" --inqom-auth-url "$INQOM" --inqom-api-url "$INQOM" \
    --retry-delays 0.2 --max-attempts 2 --log-level warning 2> "$WORK/engine.err" &
ENGINE_PID=$!
trap 'kill $ENGINE_PID $STANDIN 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -S "$WORK/engine.sock" ] && break; sleep 0.1; done

echo "--- firm 1 (connector \"default\"): the client walks the wizard, submits, and follows the events"
python3 clients/pushdoc_client.py --root "$ROOT" --config "$WORK/config.json" --until-idle --socket "$WORK/engine.sock"
echo "--- firm 2 (connector \"durand-expertise\"): the same, for its own dossiers"
python3 clients/pushdoc_client.py --root "$ROOT2" --config "$WORK/config-durand.json" --until-idle --socket "$WORK/engine.sock" \
    --connector durand-expertise

echo "--- what Inqom received"
curl -s "$INQOM/_standin/uploads" | python3 -c '
import json, sys
for upload in json.load(sys.stdin):
    kind = upload["fields"].get("TypeScan", "expense bill")
    print("  %-28s folder %-6s %-14s %-28s %s" % (upload["account"], upload["folderId"], kind, upload["fileName"], upload["status"]))'

echo "--- the MCF trees afterwards"
(cd "$ROOT" && find . -type f ! -name '*.json' | sort | sed 's/^\.\//  firm 1: /')
(cd "$ROOT2" && find . -type f ! -name '*.json' | sort | sed 's/^\.\//  firm 2: /')
transmitted=$(find "$ROOT" -path '*Envoy*' -type f | wc -l)
failed=$(find "$ROOT" -name '*.non-transmis' | wc -l)
transmitted2=$(find "$ROOT2" -path '*Envoy*' -type f | wc -l)
echo "--- firm 1: $transmitted transmitted and archived, $failed Non transmis; firm 2: $transmitted2 transmitted and archived"
# Each firm's documents reached only its own folders, with its own login.
curl -s "$INQOM/_standin/uploads" | python3 -c '
import json, sys
uploads = json.load(sys.stdin)
assert all((u["account"] == "durand-expertise@example.fr") == (u["folderId"] == 11290) for u in uploads), uploads'
[ "$transmitted" -eq 6 ] && [ "$failed" -eq 2 ] && [ "$transmitted2" -eq 1 ]
