"""The search server over real HTTP: its page and API, and what it refuses (path traversal,
oversized queries, malformed requests). Raw request paths go through http.client, which sends
them as written (no client-side normalisation of `..`)."""
from __future__ import annotations

import http.client
import json
import socket
from urllib.parse import quote, urlsplit

import pytest

import serve  # src/serve.py
from search_fixtures import CLIPS_PER_KIND, clip_id, served_gallery
from textmotion import skeleton as sk


@pytest.fixture(scope="module")
def base_url(tmp_path_factory):
    with served_gallery(tmp_path_factory) as url:
        yield url


def get(base_url: str, raw_path: str, method: str = "GET") -> tuple[int, str, bytes]:
    """(status, content type, body) of a request sent with exactly this path."""
    connection = http.client.HTTPConnection(urlsplit(base_url).netloc, timeout=30)
    connection.request(method, raw_path)
    response = connection.getresponse()
    result = response.status, response.getheader("content-type", ""), response.read()
    connection.close()
    return result


def get_json(base_url: str, raw_path: str) -> tuple[int, dict]:
    status, content_type, body = get(base_url, raw_path)
    assert content_type.startswith("application/json"), (raw_path, content_type)
    return status, json.loads(body)


def assert_refused(base_url: str, raw_path: str, status: int | None = None, method: str = "GET") -> str:
    code, content_type, body = get(base_url, raw_path, method)
    assert 400 <= code < 500, (raw_path, code)
    assert status is None or code == status, (raw_path, code)
    assert content_type.startswith("application/json") and body.count(b"\n") == 0, body
    reason = json.loads(body)["error"]
    assert reason and "\n" not in reason
    return reason


def test_page_and_its_assets_are_served(base_url):
    status, content_type, body = get(base_url, "/")
    assert status == 200 and content_type.startswith("text/html") and b'type="importmap"' in body
    for name in ("app.js", "player.js", "three.module.min.js", "OrbitControls.js"):
        status, content_type, body = get(base_url, f"/assets/{name}")
        assert status == 200 and content_type.startswith("text/javascript") and len(body) > 1000, name
    status, content_type, _ = get(base_url, "/assets/style.css")
    assert status == 200 and content_type.startswith("text/css")


def test_search_and_clip_api(base_url):
    status, found = get_json(base_url, "/api/search?q=" + quote("two people hug") + "&k=3")
    assert status == 200 and found["gallery_size"] == 4 * CLIPS_PER_KIND
    assert [hit["rank"] for hit in found["results"]] == [1, 2, 3]
    assert {hit["id"] for hit in found["results"]} == {clip_id(2, c) for c in range(CLIPS_PER_KIND)}
    assert all(hit["caption"] == "two people hug" for hit in found["results"])

    status, clip = get_json(base_url, f"/api/clips/{found['results'][0]['id']}")
    assert status == 200 and clip["fps"] == 20 and clip["joints"] == sk.N_JOINTS
    assert len(clip["positions"]) == clip["frames"] * 2 * sk.N_JOINTS * 3
    first = clip["positions"][:sk.N_JOINTS * 3]  # person A, frame 0
    assert first[3 * sk.JOINT["head"] + 1] > first[3 * sk.JOINT["pelvis"] + 1]  # y-up

    status, info = get_json(base_url, "/api/info")
    assert status == 200 and info["clips"] == 4 * CLIPS_PER_KIND and info["max_k"] == serve.MAX_K


@pytest.mark.parametrize("raw_path", [
    "/assets/../../../../etc/passwd",
    "/assets/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "/assets/%2e%2e/%2e%2e/serve.py",
    "/assets/..%5C..%5Cserve.py",
    "/../../src/serve.py",
    "/%2e%2e/%2e%2e/src/serve.py",
    "/assets/index.html",
    "/assets/",
    "/api/clips/..%2F..%2Fmotions%2Fclip0_0",
    "/api/clips/../../gallery/motions/clip0_0.npy",
    "/api/clips/clip0_0.npy",
    "/static/app.js",
    "/docs",
    "/openapi.json",
])
def test_paths_outside_the_whitelist_are_refused(base_url, raw_path):
    code, _, body = get(base_url, raw_path)
    assert 400 <= code < 500 and b"root:" not in body and b"import" not in body, (raw_path, code)
    assert_refused(base_url, raw_path)


def test_oversized_query_is_refused(base_url):
    reason = assert_refused(base_url, "/api/search?q=" + "a" * (serve.MAX_QUERY_CHARS + 1), 413)
    assert str(serve.MAX_QUERY_CHARS) in reason
    status, _ = get_json(base_url, "/api/search?q=" + "a" * serve.MAX_QUERY_CHARS)
    assert status == 200


@pytest.mark.parametrize("raw_path,method,status,words", [
    ("/api/search", "GET", 400, "q"),
    ("/api/search?q=", "GET", 400, "empty"),
    ("/api/search?q=%20%20", "GET", 400, "empty"),
    ("/api/search?q=walk&k=abc", "GET", 400, "k"),
    ("/api/search?q=walk&k=0", "GET", 400, "k"),
    ("/api/search?q=walk&k=-3", "GET", 400, "k"),
    ("/api/search?q=walk&k=100000", "GET", 400, "k"),
    ("/api/search?q=walk", "POST", 405, ""),
    ("/api/clips/nope", "GET", 404, "nope"),
])
def test_malformed_requests_get_a_4xx_and_one_line(base_url, raw_path, method, status, words):
    reason = assert_refused(base_url, raw_path, status, method)
    assert words in reason


def test_a_request_that_is_not_http_is_refused(base_url):
    address = urlsplit(base_url)
    with socket.create_connection((address.hostname, address.port), timeout=30) as raw:
        raw.sendall(b"GET /api/search?q=walk\x00 HTTP/9\r\n\r\n")
        status_line = raw.recv(200).split(b"\r\n")[0]
    assert status_line.startswith(b"HTTP/1.1 4"), status_line


def test_a_request_naming_another_host_is_refused(base_url):
    address = urlsplit(base_url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    connection.request("GET", "/api/info", headers={"Host": f"attacker.example:{address.port}"})
    response = connection.getresponse()
    assert response.status == 400 and b"attacker" not in response.read()
    connection.close()


def test_binds_to_localhost_unless_told_otherwise():
    args = serve.parse_args(["--gallery", "g", "--model", "m"])
    assert args.host == "127.0.0.1"
    assert serve.parse_args(["--gallery", "g", "--model", "m", "--host", "0.0.0.0"]).host == "0.0.0.0"
