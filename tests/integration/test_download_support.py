"""A real HTTP server on loopback for the download tests, with faults on demand.

Each route serves a body and can first answer error statuses, cut the connection part-way
through, or ignore Range requests; the server records every request's headers. The tests in
this file check the server itself, so the download tests can trust it.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.client import IncompleteRead
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Route:
    body: bytes
    content_type: str = "video/mp4"
    statuses: list[int] = field(default_factory=list)  # answered in turn before the body
    cut_after: int | None = None  # body responses stop after this many bytes ...
    cuts: int = 1  # ... this many of them in a row
    statuses_after_cuts: list[int] = field(default_factory=list)  # then these are answered
    ranges: bool = True  # honour Range requests
    pause: float = 0.0  # seconds between 16 kB pieces of the body (a slow server)


class MediaServer:
    def __init__(self):
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # (method, path, headers)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}{path}"

    def add(self, path: str, body: bytes, **options) -> str:
        self.routes[path] = Route(body, **options)
        return self.url(path)

    def ranges_asked(self, path: str) -> list[str | None]:
        return [h.get("Range") for m, p, h in self.requests if p == path and m == "GET"]

    def __enter__(self) -> MediaServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _handler_for(server: MediaServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def do_HEAD(self) -> None:
            self._serve(send_body=False)

        def do_GET(self) -> None:
            # the client may hang up early (yt-dlp reads a page's start, then asks again)
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._serve(send_body=True)

        def _serve(self, send_body: bool) -> None:
            server.requests.append((self.command, self.path.split("?")[0], dict(self.headers)))
            route = server.routes.get(self.path.split("?")[0])
            if route is None:
                return self.send_error(404, "Not Found")
            if route.statuses:
                return self.send_error(route.statuses.pop(0))
            start, status = self._range(route)
            if status == 416:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(route.body)}")
                self.send_header("Content-Length", "0")
                return self.end_headers()
            self._send_body(route, start, status, send_body)

        def _range(self, route: Route) -> tuple[int, int]:
            match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
            if not (match and route.ranges):
                return 0, 200
            start = int(match.group(1))
            return (start, 206) if start < len(route.body) else (start, 416)

        def _send_body(self, route: Route, start: int, status: int, send_body: bool) -> None:
            body = route.body[start:]
            self.send_response(status)
            self.send_header("Content-Type", route.content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Accept-Ranges", "bytes" if route.ranges else "none")
            if status == 206:
                self.send_header(
                    "Content-Range", f"bytes {start}-{len(route.body) - 1}/{len(route.body)}"
                )
            self.end_headers()
            if not send_body:
                return
            if route.cut_after is not None and route.cuts > 0:
                body = body[: route.cut_after]
                route.cuts -= 1
                if route.cuts == 0:
                    route.statuses += route.statuses_after_cuts
                self.wfile.write(body)
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)  # the client sees a dropped connection
                self.close_connection = True
                return
            piece = 16 * 1024 if route.pause else max(len(body), 1)
            for at in range(0, len(body), piece):
                self.wfile.write(body[at : at + piece])
                time.sleep(route.pause)

    return Handler


@pytest.fixture
def server():
    with MediaServer() as server:
        yield server


def test_server_serves_ranges_and_records_them(server):
    url = server.add("/a.bin", b"0123456789")
    request = urllib.request.Request(url, headers={"Range": "bytes=4-"})
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 206
        assert response.read() == b"456789"
    assert server.ranges_asked("/a.bin") == ["bytes=4-"]


def test_server_cuts_the_first_response_only(server):
    url = server.add("/a.bin", b"x" * 1000, cut_after=100)
    with urllib.request.urlopen(url, timeout=5) as response, pytest.raises(IncompleteRead) as cut:
        response.read()
    assert len(cut.value.partial) == 100
    with urllib.request.urlopen(url, timeout=5) as response:
        assert len(response.read()) == 1000
