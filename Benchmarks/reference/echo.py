#!/usr/bin/env python3
"""Baselines for the benchmark suite, over stdio or a Unix socket.

--jsonrpc: what an integrator might write instead of Pushdoc, a minimal
JSON-RPC server that parses each request and answers "pong".
--raw: the physical floor, every line echoed back untouched.

Input is read in chunks and the answers to a chunk go out in one write, as
the engine does: one at a time it is a round trip, pipelined it batches.
"""
import argparse
import json
import os
import socket
import threading


def answer(line, jsonrpc):
    if not jsonrpc:
        return line + b"\n"
    request = json.loads(line)
    return json.dumps({"jsonrpc": "2.0", "id": request.get("id"), "result": "pong"}).encode() + b"\n"


def serve(read, write, jsonrpc):
    pending = b""
    while True:
        chunk = read()
        if not chunk:
            return
        pending += chunk
        *lines, pending = pending.split(b"\n")
        if lines:
            write(b"".join(answer(line, jsonrpc) for line in lines))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--jsonrpc", action="store_true")
    parser.add_argument("--socket")
    arguments = parser.parse_args()
    if arguments.socket is None:
        serve(lambda: os.read(0, 1 << 16), lambda data: os.write(1, data), arguments.jsonrpc)
        return
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(arguments.socket)
    listener.listen(16)
    print("listening", flush=True)
    while True:
        connection, _ = listener.accept()
        threading.Thread(
            target=serve, args=(lambda c=connection: c.recv(1 << 16), connection.sendall, arguments.jsonrpc), daemon=True
        ).start()


if __name__ == "__main__":
    main()
