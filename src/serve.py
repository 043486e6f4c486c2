"""A local web page to search a motion gallery with a sentence and watch the results move.

    python src/serve.py [--gallery DIR] [--model DIR] [--host 127.0.0.1] [--port 8000] [--cache DIR]

Defaults as for search.py: the pipeline's val clips and model. The address is bound before the
slow model load (a bad --host or a taken --port is one error line), and the URL is printed once
the server answers on it. The server (FastAPI on uvicorn) binds to 127.0.0.1 unless told
otherwise and answers only
    GET /                    the page
    GET /assets/<name>       one of the page's files (textmotion.web.ASSETS; names, not paths)
    GET /api/info            gallery size, model, the bounds below
    GET /api/search?q=&k=    the k best clips for q (1..MAX_K results, 1..MAX_QUERY_CHARS characters)
    GET /api/clips/<id>      one gallery clip's joint positions (ids of the gallery only); a clip
                             over web.MAX_PLAYER_FRAMES frames comes every n-th frame, at fps / n,
                             so that it plays for its whole duration in a bounded payload
Anything else is a 4xx whose JSON body {"error": ...} is one line; before routing, a URL over
MAX_URL_BYTES is 414 and a query string that is not UTF-8 once percent-decoded is 400. A request
that uvicorn's HTTP/1.1 parser (h11) refuses before the app sees it, one it cannot parse or whose
request line and headers are not complete within 16 KiB, is 400 with the same JSON body.
"""
from __future__ import annotations

import argparse
import errno
import os
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator
from urllib.parse import unquote_to_bytes, urlsplit

import h11
import uvicorn
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from textmotion.cli import ArgumentParser, port_number
from textmotion.errors import DataError, run_cli
from textmotion.gallery import EmbeddingCache, IndexedGallery, check_gallery
from textmotion.gallery_cli import add_gallery_arguments, gallery_and_model
from textmotion.model_io import RetrievalModel, load_model
from textmotion.retrieval import MAX_QUERY_CHARS, query_problem
from textmotion.web import ASSETS, INDEX, clip_payload

MAX_K = 24
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
MAX_URL_BYTES = 4096  # path and query string: room for MAX_QUERY_CHARS 4-byte characters, percent-encoded
INVALID_HTTP_REQUEST = "not a valid HTTP request, or its request line and headers are over 16 KiB"


def error(status: int, reason: str) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=status)


def host_name(host_header: str) -> str | None:
    """The host a Host header names ("[::1]:8000" -> "::1"), lower case; None if it names none."""
    try:
        return urlsplit("//" + host_header).hostname
    except ValueError:
        return None


def undecodable_parameter(query_string: bytes) -> str | None:
    """The name of the first query parameter that is not UTF-8 once percent-decoded, or None.
    (Starlette decodes such bytes as U+FFFD and would answer as if they had been sent.)"""
    for pair in query_string.split(b"&"):
        try:
            unquote_to_bytes(pair).decode("utf-8")
        except UnicodeDecodeError:
            return unquote_to_bytes(pair.partition(b"=")[0]).decode("utf-8", errors="replace")
    return None


class RequestGuard:
    """ASGI middleware refusing, in JSON and before routing, what FastAPI would answer in plain
    text or misread: a URL over MAX_URL_BYTES, a query string that is not UTF-8, and, when
    `local_only`, a Host header naming another machine (a web page elsewhere reaching the server
    through DNS rebinding). It drops Range headers, as a server may (RFC 9110, 14.2): the page's
    files are small, and Starlette answers a malformed or unsatisfiable range in plain text."""

    def __init__(self, app: ASGIApp, local_only: bool):
        self.app = app
        self.local_only = local_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
        elif refusal := self.refusal(scope):
            await refusal(scope, receive, send)
        else:
            headers = [(name, value) for name, value in scope["headers"] if name != b"range"]
            await self.app({**scope, "headers": headers}, receive, send)

    def refusal(self, scope: Scope) -> JSONResponse | None:
        if self.local_only and host_name(Headers(scope=scope).get("host", "")) not in LOCAL_HOSTS:
            return error(400, f"Host: this server answers only to {', '.join(LOCAL_HOSTS)}")
        url_bytes = len(scope["raw_path"]) + len(scope["query_string"])
        if url_bytes > MAX_URL_BYTES:
            return error(414, f"URL: {url_bytes} bytes; at most {MAX_URL_BYTES}")
        parameter = undecodable_parameter(scope["query_string"])
        if parameter is not None:
            return error(400, f"{parameter[:80]}: not UTF-8 once percent-decoded")
        return None


class JsonRefusingH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol (h11), with the 400 that uvicorn sends itself before any app
    code runs (a request h11 cannot parse, or whose head is still incomplete past h11's 16 KiB)
    in JSON like every other refusal. Named explicitly, so that these limits do not change with
    whether httptools happens to be installed. It overrides uvicorn's `send_400_response`;
    tests/test_serve.py checks the JSON, so an uvicorn that renames it fails there."""

    def send_400_response(self, msg: str) -> None:
        refusal = error(400, INVALID_HTTP_REQUEST)
        head = h11.Response(status_code=400, reason=b"Bad Request",
                            headers=[*refusal.raw_headers, (b"connection", b"close")])
        for event in (head, h11.Data(data=refusal.body), h11.EndOfMessage()):
            self.transport.write(self.conn.send(event))
        self.transport.close()


def create_app(model: RetrievalModel, model_name: str, indexed: IndexedGallery, host: str = "127.0.0.1") -> FastAPI:
    """The app serving one gallery indexed under one model (both loaded already), bound to `host`.

    On this machine only, requests must name it (Host: one of LOCAL_HOSTS), so that a web
    page elsewhere cannot reach the server through DNS rebinding.
    """
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(RequestGuard, local_only=host in LOCAL_HOSTS)
    gallery = indexed.gallery
    index_of = {clip_id: i for i, clip_id in enumerate(gallery.ids)}
    encoder_lock = threading.Lock()  # requests run in a thread pool; one forward pass at a time

    @app.exception_handler(HTTPException)
    async def http_error(_, exc: HTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        where = " ".join(str(part) for part in first["loc"])
        return error(400, f"{where}: {first['msg']}")

    @app.get("/")
    def page() -> FileResponse:
        return FileResponse(INDEX, media_type="text/html")

    @app.get("/assets/{name}")
    def asset(name: str):
        if name not in ASSETS:
            return error(404, f"no asset named {name[:80]!r}")
        path, media_type = ASSETS[name]
        return FileResponse(path, media_type=media_type)

    @app.get("/api/info")
    def info() -> dict:
        return {"gallery": gallery.root.name, "clips": len(gallery), "model": model_name,
                "max_query_chars": MAX_QUERY_CHARS, "max_k": MAX_K}

    @app.get("/api/search")
    def search(q: str, k: int = 5):
        problem = query_problem(q)
        if problem:
            return error(413 if len(q) > MAX_QUERY_CHARS else 400, f"q: {problem}")
        if not 1 <= k <= MAX_K:
            return error(400, f"k: must be between 1 and {MAX_K}, got {k}")
        with encoder_lock:
            hits = indexed.search(model, q, k)
        return {"query": q, "gallery_size": len(gallery),
                "results": [{"rank": hit.rank, "id": hit.clip_id, "score": round(hit.score, 4),
                             "caption": gallery.captions[hit.index][0], "captions": gallery.captions[hit.index]}
                            for hit in hits]}

    @app.get("/api/clips/{clip_id}")
    def clip(clip_id: str):
        if clip_id not in index_of:
            return error(404, f"no clip {clip_id[:80]!r} in the gallery")
        return clip_payload(clip_id, gallery.motion(index_of[clip_id]), gallery.fps)

    return app


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket listening on host:port (port 0: any free one), for `running` to serve on. `main`
    takes it before the slow model load, so that a bad --host or a taken --port is one error
    line, and holds it until the server answers on it."""
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                      flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as err:
        raise DataError("--host", f"cannot resolve {host[:80]!r}: {err.strerror}") from None
    except ValueError:  # no name can be this (a label over 63 characters, a NUL)
        raise DataError("--host", f"{host[:80]!r} is not a host name or address") from None
    try:
        return socket.create_server(address, family=family)
    except OSError as err:
        argument = "--host" if err.errno == errno.EADDRNOTAVAIL else "--port"
        raise DataError(argument, f"cannot listen on {host}:{port}: {os.strerror(err.errno)}") from None


def base_url(listener: socket.socket) -> str:
    host, port = listener.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@dataclass(frozen=True)
class Serving:
    url: str                   # the base URL, answering
    thread: threading.Thread   # uvicorn's

    def wait(self) -> None:
        """Until the server stops, or Ctrl-C. (A sleep, not Thread.join: a KeyboardInterrupt during
        join leaves the thread looking finished to the later join that waits for its shutdown.)"""
        while self.thread.is_alive():
            time.sleep(0.5)


@contextmanager
def running(app: FastAPI, listener: socket.socket | None = None) -> Iterator[Serving]:
    """Serve `app` on `listener` (default: a free port of 127.0.0.1) from a background thread,
    answering once entered; stopped on leaving."""
    listener = listener or listening_socket("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, http=JsonRefusingH11Protocol, ws="none", log_level="error"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    try:
        yield Serving(base_url(listener), thread)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        if thread.is_alive():  # a graceful shutdown still waiting on a connection: drop it
            server.force_exit = True
            thread.join(timeout=5)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    add_gallery_arguments(parser)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=port_number, default=8000, help="port to listen on (default 8000)")
    args = parser.parse_args(argv)
    args.gallery, args.model = gallery_and_model(args)
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    check_gallery(args.gallery)  # a wrong folder or a taken address fails before the slow model load
    with listening_socket(args.host, args.port) as listener:
        model = load_model(args.model)
        indexed = EmbeddingCache(args.cache).index(args.gallery, model, args.model)
        try:  # Ctrl-C stops it quietly, also between the printed URL and the wait
            with running(create_app(model, args.model.name, indexed, args.host), listener) as served:
                print(f"{len(indexed.gallery)} clips of {args.gallery} under {args.model}: open {served.url}/",
                      flush=True)
                served.wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    run_cli(main)
