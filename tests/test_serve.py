"""The search server over real HTTP: its page and API, and what it refuses (path traversal,
oversized queries and URLs, query strings that are not UTF-8, foreign Host headers, malformed
requests, clips too long to send whole), and its command line. Raw request paths go through
http.client, which sends them as written (no client-side normalisation of `..`)."""
from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, urlsplit
from urllib.request import urlopen

import numpy as np
import pytest

import serve  # src/serve.py
from search_fixtures import CLIPS_PER_KIND, REPO, clip_id, gallery_clips, served_gallery, trained_gallery
from textmotion import skeleton as sk
from textmotion.errors import run_cli
from textmotion.layout import write_clip
from textmotion.web import MAX_PLAYER_FRAMES


@pytest.fixture(scope="module")
def base_url(tmp_path_factory):
    with served_gallery(tmp_path_factory) as url:
        yield url


def get(base_url: str, raw_path: str, method: str = "GET", headers: dict | None = None) -> tuple[int, str, bytes]:
    """(status, content type, body) of a request sent with exactly this path."""
    connection = http.client.HTTPConnection(urlsplit(base_url).netloc, timeout=30)
    connection.request(method, raw_path, headers=headers or {})
    response = connection.getresponse()
    result = response.status, response.getheader("content-type", ""), response.read()
    connection.close()
    return result


def exchange_and_close(base_url: str, request: bytes) -> tuple[int, str, bytes]:
    """(status, content type, body) of the answer to these bytes sent as they are, from a server
    that closes the connection after answering. Closing before it has read them all resets the
    connection: the answer is still read, up to the reset."""
    address = urlsplit(base_url)
    answer = b""
    with socket.create_connection((address.hostname, address.port), timeout=30) as raw:
        try:
            raw.sendall(request)
        except ConnectionResetError:
            pass
        try:
            while chunk := raw.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in header_lines)
    return int(status_line.split()[1]), headers.get("content-type", ""), body


def get_json(base_url: str, raw_path: str) -> tuple[int, dict]:
    status, content_type, body = get(base_url, raw_path)
    assert content_type.startswith("application/json"), (raw_path, content_type)
    return status, json.loads(body)


def assert_refused(base_url: str, raw_path: str, status: int | None = None, method: str = "GET",
                   headers: dict | None = None) -> str:
    return assert_json_refusal(*get(base_url, raw_path, method, headers), status, raw_path)


def assert_json_refusal(code: int, content_type: str, body: bytes, status: int | None, raw_path: str = "") -> str:
    """The reason of a 4xx (`status` if given) whose body is JSON {"error": reason}, one line."""
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


@pytest.mark.parametrize("byte_range", ["bytes=0-9", "bytes=abc", "bytes=99999999-", "lines=1-2"])
def test_range_requests_get_the_whole_file(base_url, byte_range):
    """Range is ignored (Starlette would answer a bad one in plain text, not JSON)."""
    status, _, body = get(base_url, "/assets/style.css", headers={"Range": byte_range})
    assert status == 200 and body == serve.ASSETS["style.css"][0].read_bytes()


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


def test_overlong_url_is_refused(base_url):
    """Over MAX_URL_BYTES the app refuses before routing; over h11's 16 KiB (the 1 MB query of the
    review) uvicorn refuses before the app sees it, in JSON all the same."""
    for raw_path in ("/api/search?q=walk&pad=" + "a" * serve.MAX_URL_BYTES, "/" + "a" * serve.MAX_URL_BYTES):
        reason = assert_refused(base_url, raw_path, 414)
        assert str(serve.MAX_URL_BYTES) in reason
    request = b"GET /api/search?q=" + b"a" * 1_000_000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    assert assert_json_refusal(*exchange_and_close(base_url, request), 400) == serve.INVALID_HTTP_REQUEST


@pytest.mark.parametrize("raw_path,name", [
    ("/api/search?q=%ff%fe", "q"),
    ("/api/search?q=hug%e2%82", "q"),  # a character cut short
    ("/api/search?q=hug&k=%c0%b3", "k"),  # an overlong encoding of "3"
    ("/api/info?%ff=1", "\ufffd"),
])
def test_query_string_that_is_not_utf8_is_refused(base_url, raw_path, name):
    assert assert_refused(base_url, raw_path, 400) == f"{name}: not UTF-8 once percent-decoded"


def test_utf8_query_is_searched_as_sent(base_url):
    query = "zwei Menschen umarmen sich – 两个人拥抱 🤗"
    status, found = get_json(base_url, "/api/search?q=" + quote(query) + "&k=1")
    assert status == 200 and found["query"] == query


def test_a_request_that_is_not_http_is_refused(base_url):
    answer = exchange_and_close(base_url, b"GET /api/search?q=walk\x00 HTTP/9\r\n\r\n")
    assert assert_json_refusal(*answer, 400) == serve.INVALID_HTTP_REQUEST


def test_a_websocket_upgrade_is_an_ordinary_request(base_url):
    """No WebSocket protocol is served (uvicorn's would refuse an unknown path with an empty 403)."""
    upgrade = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
    assert "nope" in assert_refused(base_url, "/api/clips/nope", 404, headers=upgrade)


@pytest.mark.parametrize("host", ["attacker.example:{port}", "attacker.example", "127.0.0.1.attacker.example",
                                  "localhost.attacker.example:{port}", "[::1", ""])
def test_a_request_naming_another_host_is_refused(base_url, host):
    port = urlsplit(base_url).port
    reason = assert_refused(base_url, "/api/info", 400, headers={"Host": host.format(port=port)})
    assert reason.startswith("Host: ") and "attacker" not in reason


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LocalHost", "[::1]:{port}"])
def test_a_request_naming_this_machine_is_answered(base_url, host):
    port = urlsplit(base_url).port
    status, _, body = get(base_url, "/api/info", headers={"Host": host.format(port=port)})
    assert status == 200 and json.loads(body)["clips"] == 4 * CLIPS_PER_KIND


def test_a_long_clip_comes_in_a_bounded_payload_that_plays_as_long(tmp_path_factory):
    """A clip of 10 minutes and more at 20 fps is sent as at most MAX_PLAYER_FRAMES frames at a
    lower frame rate: the same duration (to within one sent frame), about 1 MB of JSON."""
    _, motion, caption = gallery_clips()[0]
    frames = 10 * MAX_PLAYER_FRAMES + 7
    gallery = tmp_path_factory.mktemp("long_clip")
    write_clip(gallery, "long", np.resize(motion, (frames, motion.shape[1])), [caption])
    (gallery / "dataset.json").write_text(json.dumps({"fps": 20, "up_axis": "y", "source": "test"}))
    with served_gallery(tmp_path_factory, gallery) as url:
        status, content_type, body = get(url, "/api/clips/long")
    clip = json.loads(body)
    assert status == 200 and content_type.startswith("application/json")
    assert clip["frames"] <= MAX_PLAYER_FRAMES and len(clip["positions"]) == clip["frames"] * 2 * sk.N_JOINTS * 3
    assert abs(clip["frames"] / clip["fps"] - frames / 20) < 1 / clip["fps"]
    assert len(body) < MAX_PLAYER_FRAMES * 2 * sk.N_JOINTS * 3 * len("-12.345,") + 1000


def test_binds_to_localhost_unless_told_otherwise():
    args = serve.parse_args(["--gallery", "g", "--model", "m"])
    assert args.host == "127.0.0.1"
    assert serve.parse_args(["--gallery", "g", "--model", "m", "--host", "0.0.0.0"]).host == "0.0.0.0"


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    return trained_gallery(tmp_path_factory)


def run_main(trained, tmp_path, monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of src/serve.py run as its __main__ does (through
    errors.run_cli), in this process, on the shared gallery with a model folder that does not
    exist: a refusal that comes before the model load does not name it. Nothing may be written
    to the --cache folder."""
    monkeypatch.setattr(sys, "argv", ["serve.py"])
    with pytest.raises(SystemExit) as exited:
        run_cli(lambda: serve.main(["--gallery", str(trained[0]), "--model", str(tmp_path / "no_model"),
                                    "--cache", str(tmp_path / "cache"), *args]))
    out, err = capsys.readouterr()
    assert not (tmp_path / "cache").exists()
    return exited.value.code, out, err


@pytest.mark.parametrize("port", ["70000", "0", "65536", "-1", "80.5", "http", "9" * 5000])
def test_a_port_out_of_range_is_one_error_line(trained, tmp_path, monkeypatch, capsys, port):
    assert run_main(trained, tmp_path, monkeypatch, capsys, "--port", port) == (
        1, "", f"error: serve.py: argument --port: must be a whole number from 1 to 65535, got {port[:80]!r}\n")


def test_a_taken_port_is_one_error_line_before_the_model_loads(trained, tmp_path, monkeypatch, capsys):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        assert run_main(trained, tmp_path, monkeypatch, capsys, "--port", str(port)) == (
            1, "", f"error: --port: cannot listen on 127.0.0.1:{port}: Address already in use\n")


def test_an_address_of_another_machine_is_one_error_line_before_the_model_loads(trained, tmp_path, monkeypatch,
                                                                                   capsys):
    assert run_main(trained, tmp_path, monkeypatch, capsys, "--host", "192.0.2.1") == (  # TEST-NET-1
        1, "", "error: --host: cannot listen on 192.0.2.1:8000: Cannot assign requested address\n")


def answer_ctrl_c() -> None:
    """Ctrl-C as in a terminal: a test run started in the background (`cmd &` in a script)
    ignores SIGINT, its children inherit that, and the server would never stop."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_the_printed_url_answers_at_once_and_ctrl_c_stops_quietly(trained, tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, str(REPO / "src" / "serve.py"), "--gallery", str(trained[0]),
                               "--model", str(trained[1]), "--cache", str(tmp_path / "cache"), "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "HF_HUB_OFFLINE": "1"}, preexec_fn=answer_ctrl_c)
    try:
        printed = server.stdout.readline()  # once the server answers, or "" when it has ended
        assert printed.endswith(f": open http://127.0.0.1:{port}/\n"), printed
        with urlopen(f"http://127.0.0.1:{port}/api/info", timeout=30) as response:
            assert json.load(response)["clips"] == 4 * CLIPS_PER_KIND
    finally:
        server.send_signal(signal.SIGINT)
        _, errors = server.communicate(timeout=60)
    assert server.returncode == 0 and "Traceback" not in errors, errors
