#!/usr/bin/env python3
"""A sample client that plays MyCompanyFiles' backend for the Pushdoc engine.

MCF's storage is a local directory: ROOT/<dossier id>/<folders>/<files>, and
ROOT/dossiers.json lists the dossiers: [{"id", "name", "attributes": {...}}].
The client mirrors them into the engine, walks the four wizard steps from a
config file, submits each new file of the tree (with its size and SHA-256),
and follows the engine's events: a transmitted file is moved to its archive
path, a failed one gets a "Non transmis" marker beside it and a line on
stdout. The last event seen is kept in ROOT/.pushdoc-client.json, so a
restarted client misses nothing.

    pushdoc_client.py --root ROOT --config CONFIG (--engine "pushdoc serve --stdio ..." | --socket PATH)
                      [--connector NAME] [--until-idle] [--submit-only] [--status]

--connector (or PUSHDOC_CONNECTOR) names the firm's connector when one
engine serves several firms (protocol version 2); without it, "default".

Python's standard library only: this file is documentation as much as code.
"""

import argparse
import hashlib
import json
import os
import queue
import shlex
import socket
import subprocess
import sys
import threading
import time


class Engine:
    """Newline-delimited JSON-RPC 2.0 over the engine's stdio or a Unix socket."""

    def __init__(self, command=None, socket_path=None):
        if socket_path:
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.connect(socket_path)
            self.reader, self.writer = self.sock.makefile("rb"), self.sock.makefile("wb")
        else:
            self.process = subprocess.Popen(shlex.split(command), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            self.reader, self.writer = self.process.stdout, self.process.stdin
        self.answers, self.events, self.next_id, self.lock = {}, queue.Queue(), 0, threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.reader:
            message = json.loads(line)
            if "id" in message:
                slot = self.answers.get(message["id"])
                if slot is None:  # id null (a line the engine could not read) or unknown: said, then skipped
                    print("answer to no request of ours: %s" % line.decode(errors="replace").strip(), file=sys.stderr, flush=True)
                else:
                    slot.put(message)
            elif message.get("method") == "event":
                self.events.put(message["params"])
        self.events.put(None)  # the engine went away

    def call(self, method, **params):
        with self.lock:
            self.next_id += 1
            request_id = self.next_id
            slot = self.answers[request_id] = queue.Queue()
            self.writer.write((json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}) + "\n").encode())
            self.writer.flush()
        answer = slot.get(timeout=120)
        del self.answers[request_id]
        if "error" in answer:
            raise EngineError(answer["error"])
        return answer["result"]

    def close(self):
        self.writer.close()
        if hasattr(self, "process"):
            self.process.wait(timeout=30)


class EngineError(Exception):
    def __init__(self, error):
        super().__init__("%s (%s)" % (error["message"], error.get("data", {}).get("reason")))
        self.reason = error.get("data", {}).get("reason")
        self.detail = error.get("data", {}).get("detail")


class FirmEngine:
    """The engine as one firm's connector sees it: every call names the connector."""

    def __init__(self, engine, connector):
        self.engine, self.connector, self.events = engine, connector, engine.events

    def call(self, method, **params):
        if self.connector:
            params["connector"] = self.connector
        return self.engine.call(method, **params)

    def close(self):
        self.engine.close()


class Client:
    def __init__(self, engine, root, config):
        self.engine, self.root, self.config = engine, root, config
        self.state_path = os.path.join(root, ".pushdoc-client.json")
        self.state = {"lastSeq": 0, "submitted": {}, "refused": {}}
        if os.path.exists(self.state_path):
            with open(self.state_path, encoding="utf-8") as saved:
                self.state.update(json.load(saved))

    def save(self):
        with open(self.state_path + ".tmp", "w", encoding="utf-8") as out:
            json.dump(self.state, out)
        os.replace(self.state_path + ".tmp", self.state_path)

    def sync_catalog(self):
        with open(os.path.join(self.root, "dossiers.json"), encoding="utf-8") as listing:
            dossiers = json.load(listing)
        for start in range(0, len(dossiers), 1000):
            self.engine.call("catalog.upsertDossiers", dossiers=dossiers[start:start + 1000])
        folders = set()
        for dossier in dossiers:
            base = os.path.join(self.root, dossier["id"])
            for directory, _, _ in os.walk(base):
                if directory != base:
                    folders.add(os.path.relpath(directory, base))
        if folders:
            self.engine.call("catalog.upsertFolders", paths=sorted(folders))
        return dossiers

    def walk_wizard(self):
        state = self.engine.call("wizard.state")
        if state["state"] in ("active", "paused"):
            return
        wizard = self.config
        self.engine.call("wizard.selectDossiers", query=wizard.get("dossierQuery", ""), selected=True)
        secret = os.environ.get("INQOM_CLIENT_SECRET", wizard.get("clientSecret"))
        password = os.environ.get("INQOM_PASSWORD", wizard.get("password"))
        self.engine.call("wizard.connect", login=wizard["login"], password=password, clientSecret=secret)
        mapping = self.engine.call("wizard.mapDossiers", siretAttribute=wizard["siretAttribute"])
        for dossier in mapping["unmatched"]:
            print("not mapped: %s (%s)" % (dossier["name"], dossier["reason"]))
        for rule in wizard["rules"]:
            try:
                self.engine.call("rules.add", **rule)
            except EngineError as refusal:
                if refusal.detail != "duplicate_rule":  # already added by an earlier run
                    raise
        self.engine.call("wizard.finish")

    def submit_new_files(self, dossiers):
        """Submits each file not submitted yet (polling; inotifywait would do too)."""
        count = 0
        for dossier in dossiers:
            base = os.path.join(self.root, dossier["id"])
            for directory, _, files in os.walk(base):
                for name in sorted(files):
                    full = os.path.join(directory, name)
                    if name.endswith(".non-transmis") or full in self.state["submitted"]:
                        continue
                    # A refused file is submitted again only once it has changed.
                    signature = "%d-%d" % (os.stat(full).st_size, os.stat(full).st_mtime_ns)
                    if self.state["refused"].get(full) == signature:
                        continue
                    with open(full, "rb") as content:
                        data = content.read()
                    relative = os.path.relpath(full, base)
                    try:
                        answer = self.engine.call(
                            "push.submit", dossierId=dossier["id"], path=relative, file=os.path.abspath(full),
                            size=len(data), sha256=hashlib.sha256(data).hexdigest())
                    except EngineError as refusal:
                        # Refused at intake (too large, empty, unreadable...): marked, reported, and the others go on.
                        self.mark_not_transmitted(full, refusal.reason, str(refusal))
                        self.state["refused"][full] = signature
                        print("REFUSE    %s/%s: %s" % (dossier["id"], relative, refusal), flush=True)
                        continue
                    self.state["refused"].pop(full, None)
                    self.state["submitted"][full] = answer["documentId"]
                    print("%-9s %s/%s" % (answer["state"], dossier["id"], relative), flush=True)
                    count += 1
        self.save()
        return count

    def handle(self, event):
        data = event["data"]
        if event["type"] == "document.transmitted":
            source = os.path.join(self.root, data["dossierId"], data["path"])
            # Transmitted after all (a new mapping, push.retry): no longer "Non transmis".
            if os.path.exists(source + ".non-transmis"):
                os.remove(source + ".non-transmis")
            if data.get("archivePath") and os.path.exists(source):
                target = os.path.join(self.root, data["dossierId"], data["archivePath"])
                os.makedirs(os.path.dirname(target), exist_ok=True)
                os.replace(source, target)
                self.state["submitted"][target] = self.state["submitted"].pop(source, data["documentId"])
            print("transmis  %s/%s -> %s" % (data["dossierId"], data["path"], data.get("archivePath") or "(sur place)"), flush=True)
        elif event["type"] == "document.failed":
            self.mark_not_transmitted(os.path.join(self.root, data["dossierId"], data["path"]), data["reason"], data["message"])
            print("NON TRANSMIS %s/%s: %s" % (data["dossierId"], data["path"], data["message"]), flush=True)
        self.state["lastSeq"] = event["seq"]
        self.save()

    @staticmethod
    def mark_not_transmitted(path, reason, message):
        """MCF's orange "Non transmis" triangle: a marker beside the file."""
        with open(path + ".non-transmis", "w", encoding="utf-8") as out:
            out.write("%s\n%s\n" % (reason, message))

    def follow_events(self, dossiers, until_idle):
        """Handles events as they come; between them, looks for new files."""
        self.engine.call("events.subscribe", after=self.state["lastSeq"])
        while True:
            try:
                event = self.engine.events.get(timeout=1)
            except queue.Empty:
                if self.submit_new_files(dossiers) == 0 and until_idle and self.idle():
                    return
                continue
            if event is None:
                return
            self.handle(event)

    def idle(self):
        counts = self.engine.call("status.summary")["documents"]
        return counts["queued"] + counts["sending"] + counts["retrying"] == 0 and self.engine.events.empty()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--engine", help="command that starts the engine on stdio")
    parser.add_argument("--socket", help="Unix socket of a running engine")
    parser.add_argument("--connector", default=os.environ.get("PUSHDOC_CONNECTOR"),
                        help="the firm's connector (default: PUSHDOC_CONNECTOR, else \"default\")")
    parser.add_argument("--until-idle", action="store_true", help="exit once every document has settled")
    parser.add_argument("--submit-only", action="store_true", help="submit new files, then exit")
    parser.add_argument("--status", action="store_true", help="print the engine's summary and exit")
    arguments = parser.parse_args()
    with open(arguments.config, encoding="utf-8") as config_file:
        config = json.load(config_file)
    engine = FirmEngine(Engine(command=arguments.engine, socket_path=arguments.socket), arguments.connector)
    client = Client(engine, arguments.root, config)
    if arguments.status:
        print(json.dumps(engine.call("status.summary"), indent=2, ensure_ascii=False))
        return
    dossiers = client.sync_catalog()
    client.walk_wizard()
    client.submit_new_files(dossiers)
    if not arguments.submit_only:
        client.follow_events(dossiers, arguments.until_idle)
    engine.close()


if __name__ == "__main__":
    sys.exit(main())
