#!/usr/bin/env bash
# A sample client in bash (jq; socat for a socket): it plays MCF's backend for
# the Pushdoc engine over a local tree ROOT/<dossier id>/... with
# ROOT/dossiers.json, exactly like clients/pushdoc_client.py:
#   pushdoc.sh ROOT CONFIG "ENGINE COMMAND" [--until-idle|--submit-only]   (the engine on stdio)
#   pushdoc.sh ROOT CONFIG --socket PATH [--until-idle|--submit-only|--status]      (a running engine)
#   pushdoc.sh --connector NAME ROOT CONFIG ...   (or PUSHDOC_CONNECTOR=NAME): one firm of an engine
#                                                 serving several; "default" without it
# It mirrors the dossiers and folders, walks the wizard from CONFIG, submits
# new files with size and SHA-256, then follows the events from the last seq
# it saw (ROOT/.pushdoc-sh.seq): transmitted files move to their archive
# path, failed ones get a ".non-transmis" marker and a line on stdout.
set -euo pipefail
CONNECTOR=${PUSHDOC_CONNECTOR:-}
if [ "$1" = --connector ]; then CONNECTOR=$2; shift 2; fi
ROOT=$1 CONFIG=$2
if [ "$3" = --socket ]; then coproc ENGINE { socat - "UNIX-CONNECT:$4"; }; shift 4
else coproc ENGINE { $3; }; shift 3; fi
UNTIL_IDLE=${1:-}
# Coprocess descriptors do not reach $( ) subshells; plain duplicates do.
exec {TO_ENGINE}>&"${ENGINE[1]}" {FROM_ENGINE}<&"${ENGINE[0]}"
SEQ_FILE=$ROOT/.pushdoc-sh.seq SENT=$ROOT/.pushdoc-sh.sent REFUSED=$ROOT/.pushdoc-sh.refused EVENTS=$(mktemp)
trap 'rm -f "$EVENTS" "$EVENTS.one" "$EVENTS.error"' EXIT
touch "$SENT" "$REFUSED"; [ -f "$SEQ_FILE" ] || echo 0 > "$SEQ_FILE"
NEXT_ID=0

# call METHOD PARAMS: prints the result; events read meanwhile wait in $EVENTS.
call() {
    NEXT_ID=$((NEXT_ID + 1))
    jq -cn --arg m "$1" --argjson p "$2" --argjson id $NEXT_ID --arg c "$CONNECTOR" \
        '{jsonrpc:"2.0",id:$id,method:$m,params:($p + (if $c == "" then {} else {connector:$c} end))}' >&"$TO_ENGINE"
    local line
    while IFS= read -r line <&"$FROM_ENGINE"; do
        if [ "$(jq -r '.method // empty' <<<"$line")" = event ]; then echo "$line" >> "$EVENTS"; continue; fi
        [ "$(jq -r '.id' <<<"$line")" = $NEXT_ID ] || continue
        if jq -e '.error' <<<"$line" >/dev/null; then jq -c '.error' <<<"$line" >&2; return 1; fi
        jq -c '.result' <<<"$line"; return 0
    done
    return 1
}

handle() {  # one event notification
    local event=$1 type dossier path
    type=$(jq -r '.params.type' <<<"$event"); dossier=$(jq -r '.params.data.dossierId // empty' <<<"$event")
    path=$(jq -r '.params.data.path // empty' <<<"$event")
    case $type in
        document.transmitted)
            # Transmitted after all (a new mapping, push.retry): no longer "Non transmis".
            rm -f "$ROOT/$dossier/$path.non-transmis"
            local archive; archive=$(jq -r '.params.data.archivePath // empty' <<<"$event")
            if [ -n "$archive" ] && [ -f "$ROOT/$dossier/$path" ]; then
                mkdir -p "$(dirname "$ROOT/$dossier/$archive")"; mv "$ROOT/$dossier/$path" "$ROOT/$dossier/$archive"
                echo "$ROOT/$dossier/$archive" >> "$SENT"
            fi
            echo "transmis  $dossier/$path -> ${archive:-(sur place)}" ;;
        document.failed)
            jq -r '.params.data | .reason, .message' <<<"$event" > "$ROOT/$dossier/$path.non-transmis"
            echo "NON TRANSMIS $dossier/$path: $(jq -r '.params.data.message' <<<"$event")" ;;
    esac
    jq -r '.params.seq' <<<"$event" > "$SEQ_FILE"
}

if [ "$UNTIL_IDLE" = --status ]; then call status.summary '{}' | jq .; exit 0; fi

# The catalog: dossiers, then every folder of their trees.
call catalog.upsertDossiers "$(jq -c '{dossiers: .}' "$ROOT/dossiers.json")" >/dev/null
folders=$(for d in $(jq -r '.[].id' "$ROOT/dossiers.json"); do
    (cd "$ROOT/$d" 2>/dev/null && find . -mindepth 1 -type d | sed 's|^\./||'); done | jq -Rsc 'split("\n") | map(select(. != ""))')
[ "$folders" = "[]" ] || call catalog.upsertFolders "{\"paths\":$folders}" >/dev/null

# The wizard, unless it was finished already.
state=$(call wizard.state '{}' | jq -r .state)
if [ "$state" != active ] && [ "$state" != paused ]; then
    call wizard.selectDossiers "$(jq -c '{query: (.dossierQuery // ""), selected: true}' "$CONFIG")" >/dev/null
    call wizard.connect "$(jq -c '{login, password, clientSecret}' "$CONFIG")" >/dev/null
    call wizard.mapDossiers "$(jq -c '{siretAttribute}' "$CONFIG")" | jq -r '.unmatched[] | "not mapped: \(.name) (\(.reason))"'
    jq -c '.rules[]' "$CONFIG" | while IFS= read -r rule; do call rules.add "$rule" >/dev/null 2>&1 || true; done
    call wizard.finish '{}' >/dev/null
fi

# New files of the deposit folders (polling; inotifywait would do too).
submit_new_files() {
    local d file relative params answer signature
    for d in $(jq -r '.[].id' "$ROOT/dossiers.json"); do
        [ -d "$ROOT/$d" ] || continue
        while IFS= read -r -d '' file; do
            grep -qxF "$file" "$SENT" && continue
            # A refused file is submitted again only once it has changed.
            signature="$file $(stat -c %s-%Y "$file")"
            grep -qxF "$signature" "$REFUSED" && continue
            relative=${file#"$ROOT/$d/"}
            params=$(jq -cn --arg d "$d" --arg p "$relative" --arg f "$(realpath "$file")" --argjson s "$(stat -c %s "$file")" \
                --arg h "$(sha256sum "$file" | cut -d' ' -f1)" '{dossierId:$d, path:$p, file:$f, size:$s, sha256:$h}')
            if answer=$(call push.submit "$params" 2>"$EVENTS.error"); then
                echo "$(jq -r .state <<<"$answer") $d/$relative"
                echo "$file" >> "$SENT"
            else
                # Refused at intake (too large, empty, unreadable...): marked, reported, and the others go on.
                jq -r '.data.reason, .message' "$EVENTS.error" > "$file.non-transmis"
                echo "REFUSE    $d/$relative: $(jq -r .message "$EVENTS.error")"
                echo "$signature" >> "$REFUSED"
            fi
        done < <(find "$ROOT/$d" -type f ! -name '*.non-transmis' -print0 | sort -z)
    done
}
submit_new_files

[ "$UNTIL_IDLE" = --submit-only ] && exit 0

# Events from the last one seen; with --until-idle, stop once all has settled.
call events.subscribe "{\"after\":$(cat "$SEQ_FILE")}" >/dev/null
while true; do
    while [ -s "$EVENTS" ]; do
        head -n1 "$EVENTS" > "$EVENTS.one"; sed -i '1d' "$EVENTS"; handle "$(cat "$EVENTS.one")"
    done
    if IFS= read -r -t 1 line <&"$FROM_ENGINE"; then
        [ "$(jq -r '.method // empty' <<<"$line")" = event ] && handle "$line"
    else
        submit_new_files
        if [ "$UNTIL_IDLE" = --until-idle ]; then
            pending=$(call status.summary '{}' | jq '.documents | .queued + .sending + .retrying')
            [ "$pending" = 0 ] && [ ! -s "$EVENTS" ] && break
        fi
    fi
done
