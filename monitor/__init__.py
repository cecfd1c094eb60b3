"""dmn-monitor: real-world performance monitoring of AI medical devices.

The application package: configuration, storage, registry, ingestion, linking,
evaluation and the command line. ``connectors`` (readers) and ``metrics``
(statistics) are independent packages it builds on.
"""

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("dmn-monitor")
except _metadata.PackageNotFoundError:  # a source checkout that was not installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
