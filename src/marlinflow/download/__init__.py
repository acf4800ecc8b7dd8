"""The download stage: fetch one manifest source into one checked video file.

``fetch`` handles local files, frame folders, http(s)/file URLs and YouTube (yt-dlp). Gated data
sets are checked when their manifest is built (:mod:`marlinflow.datasets`).
"""

from marlinflow.download.fetch import FetchResult, fetch
from marlinflow.download.http import RetryPolicy

__all__ = ["FetchResult", "RetryPolicy", "fetch"]
