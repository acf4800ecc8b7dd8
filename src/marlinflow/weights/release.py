"""The official released weights (marlin_vit_{small,base,large}_ytf): names, download, cache.

Released files are downloaded once into a user cache folder ($MARLINFLOW_CACHE, else
$XDG_CACHE_HOME/marlinflow), not into the working directory, from the release page or a mirror
($MARLINFLOW_WEIGHTS_URL).
"""

from __future__ import annotations

import os
import shutil
import urllib.request
from pathlib import Path

from marlinflow.atomic import atomic_path
from marlinflow.errors import InputError
from marlinflow.models import RELEASED

RELEASE_URL = "https://github.com/ControlNet/MARLIN/releases/download/model_v1"
CACHE_ENV = "MARLINFLOW_CACHE"  # folder for downloaded weights
URL_ENV = "MARLINFLOW_WEIGHTS_URL"  # a mirror of the release folder


def cache_dir() -> Path:
    """Where released weights are kept: $MARLINFLOW_CACHE, else the user's cache folder."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "marlinflow"


def release_file(name: str, full: bool = False) -> str:
    """The released file name of ``name`` (marlin_vit_<small|base|large>_ytf, or the size)."""
    name = name if name in RELEASED else f"marlin_vit_{name}_ytf"
    if name not in RELEASED:
        raise InputError(name, f"no released weights of this name; released: {', '.join(RELEASED)}")
    return f"{name}.{'full' if full else 'encoder'}.pt"


def _stream_to(response, path: Path) -> None:
    with path.open("wb") as out:
        shutil.copyfileobj(response, out, length=1 << 20)  # streamed: the files reach 1.4 GB


def fetch_release(file_name: str, folder: Path) -> Path:
    """The cached copy of a released file, downloading it first if it is not there."""
    target = folder / file_name
    if target.is_file():
        return target
    url = f"{os.environ.get(URL_ENV, RELEASE_URL).rstrip('/')}/{file_name}"
    try:
        with urllib.request.urlopen(url, timeout=60) as response, atomic_path(target) as tmp:
            _stream_to(response, tmp)
    except OSError as err:  # URLError, HTTPError, timeouts and refused connections
        raise InputError(
            target,
            f"weights not in the cache and the download failed ({err}). Download {url} and "
            f"put it at {target}, or set {CACHE_ENV} to a folder that holds {file_name}",
        ) from err
    return target


def released_files(folder: Path) -> list[Path]:
    """The released files (``marlin_vit_*_ytf.{encoder,full}.pt``) cached in ``folder``."""
    names = {release_file(name, full) for name in RELEASED for full in (False, True)}
    return sorted(path for path in folder.glob("*.pt") if path.name in names)
