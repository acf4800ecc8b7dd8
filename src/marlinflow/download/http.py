"""Stream a URL into a ``.part`` file: resumed after a cut connection, retried when the fault is
transient (connection errors, timeouts, 5xx), never retried when the server refuses (4xx).

The ``.part`` file outlives a killed run, so the next run resumes with an HTTP Range request; a
server that ignores Range answers 200 and the download starts over.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import re
import time
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.parse import urlparse
from urllib.request import Request, urlopen

from marlinflow.config.settings import settings_class
from marlinflow.errors import InputError
from marlinflow.progress import progress

log = logging.getLogger(__name__)
USER_AGENT = "marlinflow-download/1"
RETRY_STATUS = {408, 425, 429}  # 4xx codes that mean "try again later", besides all 5xx
CONTENT_RANGE = re.compile(r"bytes (\d+)-\d+/(\d+|\*)")


# The config's download section: retries after the first attempt, the first retry's delay in
# seconds (doubling after each), the seconds a connect or a read may stall.
CHUNK = {"type": "integer", "minimum": 1, "default": 1 << 20, "description": "Bytes per read."}
RetryPolicy = settings_class("download", "RetryPolicy", extra={"chunk_size": CHUNK})


class Transient(Exception):
    """A failure worth another attempt."""


def download(url: str, part: Path, policy: RetryPolicy | None = None) -> int:
    """Complete ``part`` from ``url``; the number of attempts it took.

    Only attempts that add nothing to ``part`` count against ``policy.retries``: a long file on
    a flaky link keeps going as long as each connection brings more of it.
    """
    policy = policy or RetryPolicy()
    attempts = failures = 0
    while True:
        attempts += 1
        before = _size(part)
        try:
            _attempt(url, part, policy)
            return attempts
        except Transient as err:
            failures = 0 if _size(part) > before else failures + 1
            if failures > policy.retries:
                raise InputError(url, f"gave up after {attempts} attempts: {err}") from err
            delay = policy.backoff * 2 ** max(failures - 1, 0)
            log.info("%s: %s; retrying in %.1f s", url, err, delay)
            time.sleep(delay)


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _attempt(url: str, part: Path, policy: RetryPolicy) -> None:
    offset = _size(part)
    request = Request(url, headers={"User-Agent": USER_AGENT})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urlopen(request, timeout=policy.timeout)
    except HTTPError as err:
        _refused(url, part, offset, err)
        return
    except (URLError, OSError, http.client.HTTPException) as err:
        raise Transient(f"cannot connect ({getattr(err, 'reason', err)})") from err
    with response:
        offset, total = _resume_point(response, part, offset)
        name = Path(urlparse(url).path).name or url
        with progress(
            what=f"download {name}", total=total, unit="B", unit_scale=True, initial=offset
        ) as bar:
            _stream(response, part, offset, policy.chunk_size, bar.update)
    size = part.stat().st_size
    if total is not None and size < total:
        raise Transient(f"connection closed after {size} of {total} bytes")


def _refused(url: str, part: Path, offset: int, err: HTTPError) -> None:
    """An error status: done (416 on a complete file), transient, or final."""
    if err.code == 416 and offset:
        total = _total(err.headers.get("Content-Range", ""))
        if total == offset:  # the part already holds the whole body
            return
        part.unlink()  # the file changed on the server: the part is no good
        raise Transient("range not satisfiable; starting over")
    if err.code >= 500 or err.code in RETRY_STATUS:
        raise Transient(f"HTTP {err.code} {err.reason}")
    raise InputError(url, f"HTTP {err.code} {err.reason}")


def _resume_point(response, part: Path, offset: int) -> tuple[int, int | None]:
    """Where this response's body starts in the file, and the file's full size if known."""
    length = response.headers.get("Content-Length")
    if response.status == 206:
        content_range = response.headers.get("Content-Range", "")
        match = CONTENT_RANGE.match(content_range)
        if not (offset and match and int(match.group(1)) == offset):
            part.unlink(missing_ok=True)
            raise Transient(f"asked for bytes {offset}- but got {content_range!r}; starting over")
        total = match.group(2)
        return offset, None if total == "*" else int(total)
    # 200: the server sends the whole body (it ignored Range, or none was asked)
    return 0, int(length) if length else None


def _total(content_range: str) -> int | None:
    match = re.match(r"bytes \*/(\d+)", content_range)
    return int(match.group(1)) if match else None


def _stream(response, part: Path, offset: int, chunk_size: int, advance=None) -> None:
    with open(part, "r+b" if offset else "wb") as out:
        out.seek(offset)
        out.truncate()
        while True:
            try:
                chunk = response.read1(chunk_size)  # what has arrived: a kill loses little
            except (OSError, http.client.HTTPException) as err:
                raise Transient(f"connection lost ({err.__class__.__name__}: {err})") from err
            if not chunk:
                return
            out.write(chunk)
            if advance is not None:
                advance(len(chunk))


def sha256_of(path: str | Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as data:
        while chunk := data.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()
