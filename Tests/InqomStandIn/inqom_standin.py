#!/usr/bin/env python3
"""A stand-in for Inqom's API, faithful to protocol/inqom.md.

Inqom publishes no sandbox, so tests, the demo and the benchmarks of Pushdoc
(and integrators' own tests) run against this. It serves the token server and
the API from one process, answers exactly what protocol/inqom.md says, parses
multipart strictly and streams uploads (a 1 GiB file costs no memory), records
every upload, and takes faults to inject through a small control API.

    python3 inqom_standin.py --world world.json [--port 0] [--latency S] [--exit-with-stdin]

prints one JSON line, {"url": "http://127.0.0.1:PORT"}, once it listens.

Control API (no auth; loopback only), all JSON:
    GET  /_standin/uploads            every upload received, oldest first
    GET  /_standin/tokens             every access token issued so far
    GET  /_standin/stats              counts: apiConnections, requests per kind (token, folders, upload,
                                      expense), peakConcurrentUpload (most uploads under way at once),
                                      busiestSecond (most API requests that arrived within one second)
    POST /_standin/latency            {"seconds"}: every API request is answered no sooner than this after
                                      it arrived (a distant Inqom; also --latency)
    POST /_standin/faults             {"kind", "count", "status"?, "retryAfter"?, "body"?,
                                       "hang"?: s, "delay"?: s, "reset"?: true, "hold"?: true}
                                      the next `count` requests of `kind` (or "any") get it; "hold"
                                      keeps each until /_standin/release, then plays the rest
    POST /_standin/wait-held          {"count", "timeout"?: s}: answers once `count` requests are held
                                      ({"held": n}; fewer when the timeout passed)
    POST /_standin/release            lets every held request go on
    POST /_standin/random-faults      {"seed", "rate", "statuses": [503, "reset", ...], "kinds"?: [...], "delay"?: s}
                                      a seeded share of requests gets a status or a reset;
                                      "delay" slows every request of those kinds
    POST /_standin/expire-tokens      every token issued so far answers 401
    POST /_standin/password           {"username", "password"}: the account's new password
    POST /_standin/folders            {"folders": [...]}: replaces the accounting folders
    POST /_standin/reset              forget uploads, faults and counts
"""

import argparse
import contextlib
import hashlib
import json
import random
import re
import os
import secrets
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ACCEPTED_TYPES = {
    "application/pdf", "image/jpeg", "image/png", "image/tiff", "image/gif", "image/bmp",
    "image/heic", "image/webp", "application/xml", "text/xml",
}
TYPE_SCANS = {"Supplier", "Client", "Others"}


class BadRequest(Exception):
    """A malformed request: answered 400 with the reason."""


class World:
    """Accounts, clients, folders, tokens, uploads and faults, behind one lock."""

    def __init__(self, spec):
        self.lock = threading.Lock()
        # Held requests wait on it; so do tests waiting for them to be held.
        self.holding = threading.Condition(self.lock)
        self.releases = 0
        self.clients = {c["id"]: c["secret"] for c in spec.get("clients", [])}
        self.accounts = {a["username"]: dict(a) for a in spec.get("accounts", [])}
        self.folders = list(spec.get("folders", []))
        self.token_lifetime = int(spec.get("tokenLifetime", 3600))
        self.max_upload_bytes = int(spec.get("maxUploadBytes", 2 << 30))
        self.latency = 0.0
        self.reset()

    def reset(self):
        with self.lock:
            self.tokens = {}
            self.issued = []  # every token ever issued, for tests that look for leaks
            self.uploads = []
            self.hashes = {}  # (endpoint, folder id, sha256) -> Inqom id
            self.faults = []
            self.random_faults = None
            self.under_way = {}
            self.stats = {}
            self.arrivals = []  # when each API request arrived (monotonic seconds)
            self.next_id = 9_500_000
            # A reset lets held requests go.
            self.held = 0
            self.releases += 1
            self.holding.notify_all()

    def count(self, kind, arrived=None):
        with self.lock:
            self.stats[kind] = self.stats.get(kind, 0) + 1
            if arrived is not None:
                self.arrivals.append(arrived)

    def busiest_second(self):
        """The most API requests that arrived within any one second (a sliding window)."""
        with self.lock:
            arrivals = sorted(self.arrivals)
        busiest, first = 0, 0
        for last, at in enumerate(arrivals):
            while at - arrivals[first] >= 1.0:
                first += 1
            busiest = max(busiest, last - first + 1)
        return busiest

    @contextlib.contextmanager
    def concurrent(self, kind):
        """Counts requests of a kind under way at once; stats keep the peak."""
        with self.lock:
            self.under_way[kind] = self.under_way.get(kind, 0) + 1
            peak = "peakConcurrent" + kind.capitalize()
            self.stats[peak] = max(self.stats.get(peak, 0), self.under_way[kind])
        try:
            yield
        finally:
            with self.lock:
                self.under_way[kind] -= 1

    def take_fault(self, kind):
        with self.lock:
            for fault in self.faults:
                if fault["kind"] in (kind, "any") and fault["count"] > 0:
                    fault["count"] -= 1
                    return dict(fault)
            chance = self.random_faults
            if chance and kind in chance["kinds"]:
                fault = {"delay": chance["delay"]} if chance["delay"] else {}
                if chance["random"].random() < chance["rate"]:
                    pick = chance["random"].choice(chance["statuses"])
                    fault.update({"reset": True} if pick == "reset" else {"status": pick})
                return fault or None
        return None

    def issue_token(self, username):
        token = secrets.token_urlsafe(32)
        with self.lock:
            self.tokens[token] = (username, time.time() + self.token_lifetime)
            self.issued.append(token)
        return token

    def account_for(self, token):
        with self.lock:
            entry = self.tokens.get(token)
        if entry is None or entry[1] < time.time():
            return None
        return self.accounts.get(entry[0])

    def visible_folders(self, account):
        allowed = account.get("folders")
        with self.lock:
            return [f for f in self.folders if allowed is None or f["Id"] in allowed]

    def record(self, upload):
        with self.lock:
            key = (upload["kind"], upload["folderId"], upload["sha256"])
            duplicate = key in self.hashes
            if not duplicate:
                self.next_id += 1
                self.hashes[key] = self.next_id
            upload["id"] = self.hashes[key]
            upload["status"] = "Duplicate" if duplicate else "Received"
            upload["at"] = time.time()
            self.uploads.append(upload)
            return upload


class MultipartReader:
    """Strict, streaming multipart/form-data: file parts are hashed as they
    pass, never held; text fields are kept (64 KiB each at most)."""

    def __init__(self, read, content_type, max_file_bytes):
        kind, _, rest = content_type.partition(";")
        if kind.strip().lower() != "multipart/form-data":
            raise BadRequest("Content-Type must be multipart/form-data")
        params = dict(_header_params(rest))
        boundary = params.get("boundary")
        if not boundary:
            raise BadRequest("multipart boundary missing")
        self.read = read
        self.delimiter = b"\r\n--" + boundary.encode("latin-1")
        self.max_file_bytes = max_file_bytes
        self.buffer = b"\r\n"  # so the first boundary looks like the others
        self.exhausted = False

    def _fill(self):
        if self.exhausted:
            return False
        chunk = self.read(256 * 1024)
        if not chunk:
            self.exhausted = True
            return False
        self.buffer += chunk
        return True

    def _expect(self, data):
        while len(self.buffer) < len(data):
            if not self._fill():
                raise BadRequest("multipart body ends early")
        if not self.buffer.startswith(data):
            raise BadRequest("malformed multipart body")
        self.buffer = self.buffer[len(data):]

    def parse(self):
        """Returns ({name: text}, {name: file info}); refuses anything loose."""
        fields, files = {}, {}
        while True:
            self._expect(self.delimiter)
            while len(self.buffer) < 2 and self._fill():
                pass
            if self.buffer.startswith(b"--"):
                return fields, files
            self._expect(b"\r\n")
            headers = self._headers()
            disposition = headers.get("content-disposition", "")
            kind, _, rest = disposition.partition(";")
            if kind.strip().lower() != "form-data":
                raise BadRequest("part without Content-Disposition: form-data")
            params = dict(_header_params(rest))
            name = params.get("name")
            if not name:
                raise BadRequest("part without a name")
            if name in fields or name in files:
                raise BadRequest("part %r given twice" % name)
            if "filename" in params:
                digest, size = hashlib.sha256(), 0
                for piece in self._part_data():
                    digest.update(piece)
                    size += len(piece)
                files[name] = {
                    "fileName": params["filename"],
                    "contentType": headers.get("content-type", "application/octet-stream"),
                    "size": size, "sha256": digest.hexdigest(),
                }
            else:
                value = b""
                for piece in self._part_data():
                    value += piece
                    if len(value) > 65536:
                        raise BadRequest("field %r too long" % name)
                try:
                    fields[name] = value.decode("utf-8")
                except UnicodeDecodeError:
                    raise BadRequest("field %r is not UTF-8" % name)

    def _headers(self):
        while b"\r\n\r\n" not in self.buffer:
            if len(self.buffer) > 16384 or not self._fill():
                raise BadRequest("malformed part headers")
        raw, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        headers = {}
        for line in raw.decode("utf-8", "replace").split("\r\n"):
            name, colon, value = line.partition(":")
            if not colon:
                raise BadRequest("malformed part header")
            headers[name.strip().lower()] = value.strip()
        return headers

    def _part_data(self):
        keep = len(self.delimiter)
        while True:
            index = self.buffer.find(self.delimiter)
            if index >= 0:
                piece, self.buffer = self.buffer[:index], self.buffer[index:]
                if piece:
                    yield piece
                return
            if len(self.buffer) > keep:
                piece, self.buffer = self.buffer[:-keep], self.buffer[-keep:]
                yield piece
            if not self._fill():
                raise BadRequest("multipart body ends inside a part")


_HEADER_PARAM = re.compile(r'\s*([^=;\s]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)\s*(?:;|$)')


def _header_params(text):
    """key=value parameters after a header's first ';', quoted strings kept whole (a ';' inside one is text)."""
    for match in _HEADER_PARAM.finditer(text):
        key, value = match.group(1), match.group(2).strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = re.sub(r'\\(.)', r'\1', value[1:-1])
        yield key.lower(), value


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "InqomStandIn"
    world = None  # set by main

    def log_message(self, *args):
        pass

    def parse_request(self):
        self.arrived = time.monotonic()
        self.is_api_request = False
        return super().parse_request()

    def setup(self):
        super().setup()
        # Headers and body leave in separate writes: without this, Nagle and
        # the client's delayed ACK add 40 ms to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.counted_connection = False

    def _count(self, kind):
        """Counts a request, and its connection the first time it carries one."""
        if not self.counted_connection:
            self.counted_connection = True
            self.world.count("apiConnections")
        self.world.count(kind, self.arrived)
        self.is_api_request = True

    # -- plumbing ---------------------------------------------------------

    def _body_reader(self):
        """A read(n) over the request body, Content-Length or chunked."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            state = {"left": 0, "done": False}

            def read_chunked(size):
                if state["done"]:
                    return b""
                if state["left"] == 0:
                    line = self.rfile.readline(1024)
                    state["left"] = int(line.split(b";")[0].strip() or b"0", 16)
                    if state["left"] == 0:
                        self.rfile.readline(1024)
                        state["done"] = True
                        return b""
                data = self.rfile.read(min(size, state["left"]))
                state["left"] -= len(data)
                if state["left"] == 0:
                    self.rfile.readline(16)
                return data
            return read_chunked
        remaining = {"n": int(self.headers.get("Content-Length") or 0)}

        def read_length(size):
            if remaining["n"] <= 0:
                return b""
            data = self.rfile.read(min(size, remaining["n"]))
            remaining["n"] -= len(data)
            return data
        return read_length

    def _drain(self, read):
        while read(1 << 20):
            pass

    def _answer(self, status, payload=None, headers=None):
        body = b"" if payload is None else json.dumps(payload).encode()
        if self.is_api_request:
            wait = self.arrived + self.world.latency - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _apply_fault(self, kind, read):
        """Plays an injected fault; True when it answered (or hung up)."""
        fault = self.world.take_fault(kind)
        if fault is None:
            return False
        if fault.get("hold"):
            world = self.world
            with world.holding:
                release = world.releases
                world.held += 1
                world.holding.notify_all()
                world.holding.wait_for(lambda: world.releases != release)
            if not any(key in fault for key in ("status", "hang", "reset", "delay")):
                return False
        if fault.get("delay"):
            time.sleep(fault["delay"])
            if "status" not in fault:
                return False
        if fault.get("hang"):
            time.sleep(fault["hang"])
            self.close_connection = True
            return True
        if fault.get("reset"):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return True
        self._drain(read)
        headers = {}
        if fault.get("retryAfter") is not None:
            headers["Retry-After"] = str(fault["retryAfter"])
        self._answer(fault["status"], fault.get("body", {"error": "injected"}), headers)
        return True

    def _account(self, read):
        auth = self.headers.get("Authorization", "")
        account = self.world.account_for(auth[7:]) if auth.startswith("Bearer ") else None
        if account is None:
            self._drain(read)
            self._answer(401, {"error": "invalid_token"}, {"WWW-Authenticate": "Bearer"})
        return account

    def _folder(self, account, raw_id):
        try:
            wanted = int(raw_id)
        except ValueError:
            return None
        return next((f for f in self.world.visible_folders(account) if f["Id"] == wanted), None)

    # -- routes -----------------------------------------------------------

    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path
        read = self._body_reader()
        if path == "/_standin/uploads":
            with self.world.lock:
                return self._answer(200, list(self.world.uploads))
        if path == "/_standin/tokens":
            with self.world.lock:
                return self._answer(200, list(self.world.issued))
        if path == "/_standin/stats":
            busiest = self.world.busiest_second()
            with self.world.lock:
                return self._answer(200, {**self.world.stats, "busiestSecond": busiest})
        if path == "/api/app/companies/accounting-folders":
            self._count("folders")
            if self._apply_fault("folders", read):
                return
            account = self._account(read)
            if account is not None:
                self._answer(200, self.world.visible_folders(account))
            return
        self._answer(404, {"error": "not_found"})

    def do_POST(self):
        path = urllib.parse.urlsplit(self.path).path
        read = self._body_reader()
        try:
            if path.startswith("/_standin/"):
                return self._control(path, read)
            if path == "/identity/connect/token":
                return self._token(read)
            parts = path.strip("/").split("/")
            if len(parts) == 5 and parts[:3] == ["api", "accounting-documents", "accounting-folders"] \
                    and parts[4] == "Documents" and path.endswith("/"):
                with self.world.concurrent("upload"):
                    return self._upload(read, parts[3], "upload")
            if len(parts) == 5 and parts[:3] == ["api", "v1", "accounting-folders"] and parts[4] == "expense-bills":
                return self._upload(read, parts[3], "expense")
            self._drain(read)
            self._answer(404, {"error": "not_found"})
        except BadRequest as refusal:
            self._drain(read)
            self._answer(400, {"error": "bad_request", "error_description": str(refusal)})

    def _token(self, read):
        self._count("token")
        if self._apply_fault("token", read):
            return
        if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
            self._drain(read)
            return self._answer(400, {"error": "invalid_request"})
        form = urllib.parse.parse_qs(read(65536).decode("utf-8", "replace"), keep_blank_values=True)
        value = {k: v[0] for k, v in form.items() if len(v) == 1}
        if value.get("grant_type") != "password" or set(value.get("scope", "").split()) < {"openid", "apidata"}:
            return self._answer(400, {"error": "invalid_request"})
        if self.world.clients.get(value.get("client_id")) != value.get("client_secret") \
                or value.get("client_secret") is None:
            return self._answer(400, {"error": "invalid_client"})
        account = self.world.accounts.get(value.get("username"))
        if account is None or account.get("password") != value.get("password"):
            return self._answer(400, {"error": "invalid_grant", "error_description": "invalid_username_or_password"})
        token = self.world.issue_token(account["username"])
        self._answer(200, {"access_token": token, "expires_in": self.world.token_lifetime, "token_type": "Bearer",
                           "scope": "openid apidata"})

    def _upload(self, read, raw_folder, kind):
        self._count(kind)
        if self._apply_fault(kind, read):
            return
        account = self._account(read)
        if account is None:
            return
        folder = self._folder(account, raw_folder)
        if folder is None:
            self._drain(read)
            return self._answer(404, {"error": "accounting_folder_not_found"})
        declared = int(self.headers.get("Content-Length") or 0)
        if declared > self.world.max_upload_bytes:
            self._drain(read)
            return self._answer(413, {"error": "file_too_large"})
        reader = MultipartReader(read, self.headers.get("Content-Type", ""), self.world.max_upload_bytes)
        fields, files = reader.parse()
        if kind == "upload":
            file_part, required = "Document", {"DocumentName", "TypeScan", "FileSource", "SourceId"}
        else:
            file_part, required = "File", {"FileNameWithExtension", "DocumentReference"}
        if set(files) != {file_part}:
            raise BadRequest("exactly one file part, %s, is expected" % file_part)
        missing = sorted(required - set(fields))
        if missing or set(fields) - required:
            raise BadRequest("fields must be exactly %s" % ", ".join(sorted(required)))
        if any(not fields[name].strip() for name in required):
            raise BadRequest("empty field")
        if kind == "upload":
            if fields["TypeScan"] not in TYPE_SCANS:
                raise BadRequest("TypeScan must be Supplier, Client or Others")
            if fields["FileSource"] != "Api":
                raise BadRequest("FileSource must be Api")
        document = files[file_part]
        if document["contentType"].split(";")[0].strip().lower() not in ACCEPTED_TYPES:
            return self._answer(415, {"error": "unsupported_media_type", "contentType": document["contentType"]})
        if document["size"] == 0:
            raise BadRequest("empty file")
        upload = self.world.record({"kind": kind, "folderId": folder["Id"], "fields": fields,
                                    "account": account["username"], **document})
        if kind == "upload":
            self._answer(200, {"Id": upload["id"], "AccountingFolderId": folder["Id"],
                               "Name": fields["DocumentName"], "Type": fields["TypeScan"],
                               "Status": upload["status"], "CreatedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ"),
                               "Source": "Api"})
        else:
            self._answer(200, {"DocumentId": upload["id"]})

    def _control(self, path, read):
        request = json.loads(read(1 << 20) or b"{}")
        world = self.world
        if path == "/_standin/faults":
            with world.lock:
                world.faults.append({"kind": request.get("kind", "any"), "count": int(request.get("count", 1)),
                                     **{k: v for k, v in request.items() if k not in ("kind", "count")}})
        elif path == "/_standin/random-faults":
            with world.lock:
                world.random_faults = {"random": random.Random(request.get("seed", 0)),
                                       "rate": float(request["rate"]), "statuses": request["statuses"],
                                       "kinds": request.get("kinds", ["upload", "expense"]),
                                       "delay": float(request.get("delay", 0))}
        elif path == "/_standin/latency":
            world.latency = float(request["seconds"])
        elif path == "/_standin/expire-tokens":
            with world.lock:
                world.tokens.clear()
        elif path == "/_standin/password":
            with world.lock:
                world.accounts[request["username"]]["password"] = request["password"]
        elif path == "/_standin/folders":
            with world.lock:
                world.folders = list(request["folders"])
        elif path == "/_standin/wait-held":
            with world.holding:
                world.holding.wait_for(lambda: world.held >= int(request["count"]), float(request.get("timeout", 60)))
                held = world.held
            return self._answer(200, {"held": held})
        elif path == "/_standin/release":
            with world.holding:
                world.releases += 1
                world.held = 0
                world.holding.notify_all()
        elif path == "/_standin/reset":
            world.reset()
        else:
            return self._answer(404, {"error": "not_found"})
        self._answer(200, {})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--world", required=True, help="JSON file: clients, accounts, folders")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--latency", type=float, default=0.0,
                        help="seconds between a request's arrival and its answer (a distant Inqom)")
    parser.add_argument("--exit-with-stdin", action="store_true",
                        help="exit when stdin closes (so a test harness that dies takes the stand-in along)")
    arguments = parser.parse_args()
    # A parent may have spawned us with these blocked; we must stop on them.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    if arguments.exit_with_stdin:
        threading.Thread(target=lambda: (sys.stdin.buffer.read(), os._exit(0)), daemon=True).start()
    with open(arguments.world, encoding="utf-8") as world_file:
        Handler.world = World(json.load(world_file))
    Handler.world.latency = arguments.latency
    server = Server((arguments.host, arguments.port), Handler)
    print(json.dumps({"url": "http://%s:%d" % server.server_address[:2]}), flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
