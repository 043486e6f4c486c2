"""A local web page to search a motion gallery with a sentence and watch the results move.

    python src/serve.py [--gallery DIR] [--model DIR] [--host 127.0.0.1] [--port 8000] [--cache DIR]

Defaults as for search.py: the pipeline's val clips and model. The server (FastAPI on uvicorn)
binds to 127.0.0.1 unless told otherwise and answers only
    GET /                    the page
    GET /assets/<name>       one of the page's files (textmotion.web.ASSETS; names, not paths)
    GET /api/info            gallery size, model, the bounds below
    GET /api/search?q=&k=    the k best clips for q (1..MAX_K results, 1..MAX_QUERY_CHARS characters)
    GET /api/clips/<id>      one gallery clip's joint positions (ids of the gallery only)
Anything else is a 4xx whose JSON body {"error": ...} is one line.
"""
from __future__ import annotations

import argparse
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from starlette.exceptions import HTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from textmotion.errors import run_cli
from textmotion.gallery import (EmbeddingCache, IndexedGallery, check_gallery, default_cache_dir,
                                pipeline_defaults)
from textmotion.retrieval import MAX_QUERY_CHARS, Retriever
from textmotion.web import ASSETS, INDEX, clip_payload

MAX_K = 24
LOCAL_HOSTS = ("127.0.0.1", "localhost")


def error(status: int, reason: str) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=status)


def create_app(retriever: Retriever, indexed: IndexedGallery, host: str = "127.0.0.1") -> FastAPI:
    """The app serving one gallery under one model (both loaded already), bound to `host`.

    On this machine only, requests must name it (Host: 127.0.0.1 or localhost), so that a web
    page elsewhere cannot reach the server through DNS rebinding.
    """
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    if host in LOCAL_HOSTS:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(LOCAL_HOSTS))
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
        return {"gallery": gallery.root.name, "clips": len(gallery), "model": retriever.model_dir.name,
                "max_query_chars": MAX_QUERY_CHARS, "max_k": MAX_K}

    @app.get("/api/search")
    def search(q: str, k: int = 5):
        if not q.strip():
            return error(400, "q: the query is empty")
        if len(q) > MAX_QUERY_CHARS:
            return error(413, f"q: the query has {len(q)} characters; at most {MAX_QUERY_CHARS}")
        if not 1 <= k <= MAX_K:
            return error(400, f"k: must be between 1 and {MAX_K}, got {k}")
        with encoder_lock:
            hits = retriever.search(q, indexed, k)
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


@contextmanager
def running(app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve `app` from a background thread (port 0: any free one); yields its base URL."""
    import uvicorn
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    bound_host, bound_port = server.servers[0].sockets[0].getsockname()[:2]
    try:
        yield f"http://{bound_host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gallery", type=Path, help="challenge-layout folder or motion store "
                                                     "(default: evaluate.val_store of params.yaml)")
    parser.add_argument("--model", type=Path, help="model folder (default: evaluate.model_dir)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--cache", type=Path, default=None,
                        help=f"embedding cache folder (default {default_cache_dir()})")
    args = parser.parse_args(argv)
    if args.gallery is None or args.model is None:
        gallery, model = pipeline_defaults()
        args.gallery, args.model = args.gallery or gallery, args.model or model
    return args


def main(argv: list[str] | None = None) -> None:
    import uvicorn
    args = parse_args(argv)
    check_gallery(args.gallery)  # a wrong folder fails before the slow model load
    retriever = Retriever.load(args.model)
    indexed = EmbeddingCache(args.cache).index(args.gallery, retriever)
    print(f"{len(indexed.gallery)} clips of {args.gallery} under {args.model}: "
          f"open http://{args.host}:{args.port}/", flush=True)
    uvicorn.run(create_app(retriever, indexed, args.host), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    run_cli(main)
