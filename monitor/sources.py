"""Configured sources: which mapping reads which file."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from fnmatch import fnmatch
from pathlib import Path

from connectors import SourceMapping
from connectors.limits import ReadLimits
from monitor.config import Config, SourceConfig
from monitor.errors import ConfigError, MonitorError
from monitor.ingest import IngestReport, completed_run, file_checksum, ingest_file
from monitor.storage import Database

__all__ = ["find_source", "ingest_sources", "mapping_for", "read_limits", "source_files"]


def read_limits(config: Config) -> ReadLimits:
    """The readers' bounds of ``config`` (``[ingest]``)."""
    ingest = config.ingest
    return ReadLimits(
        max_inflated_bytes=ingest.max_inflated_bytes,
        max_cell_bytes=ingest.max_cell_bytes,
        max_batch_bytes=ingest.max_batch_bytes,
        max_message_file_bytes=ingest.max_message_file_bytes,
    )


def mapping_for(
    source: SourceConfig | None,
    timezone: str,
    base_dir: Path | None = None,
    limits: ReadLimits | None = None,
) -> SourceMapping:
    """The connector mapping of ``source`` (the canonical layout when None); rule files
    are resolved against ``base_dir`` (the configuration file's folder); ``limits``:
    the readers' bounds (:func:`read_limits`; the defaults when None)."""
    limits = limits or ReadLimits()
    if source is None:
        return SourceMapping(timezone=timezone, limits=limits)

    def resolved(files: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        base = base_dir or Path.cwd()
        return {
            target: tuple(str(base / Path(f).expanduser()) for f in paths)
            for target, paths in files.items()
        }

    return SourceMapping(
        columns=dict(source.columns),
        values={column: dict(values) for column, values in source.values.items()},
        defaults=dict(source.defaults),
        datetime_format=source.datetime_format,
        timezone=timezone,
        delimiter=source.delimiter,
        encoding=source.encoding,
        vocabularies=resolved(source.vocabularies),
        pathology_rules=resolved(source.pathology_rules),
        local_codes=dict(source.local_codes),
        limits=limits,
    )


def _pattern(config: Config, source: SourceConfig) -> str:
    pattern = Path(source.path).expanduser()
    if not pattern.is_absolute():
        pattern = config.base_dir / pattern
    return str(pattern)


def find_source(
    config: Config, path: Path, kind: str, name: str | None = None
) -> SourceConfig | None:
    """The source named ``name``, else the first source of ``kind`` whose glob matches ``path``.

    None when no source matches (the file is then read as canonical CSV/Parquet).
    Raises :class:`ConfigError` for an unknown name or a source of the other kind.
    """
    if name is not None:
        for source in config.sources:
            if source.name == name:
                if source.kind != kind:
                    raise ConfigError(
                        f"source {name!r} holds {source.kind}, not {kind}", key="sources"
                    )
                return source
        known = ", ".join(s.name for s in config.sources) or "none configured"
        raise ConfigError(f"no source named {name!r} in the configuration (known: {known})")
    resolved = str(path.resolve())
    for source in config.sources:
        if source.kind == kind and fnmatch(resolved, _pattern(config, source)):
            return source
    return None


def source_files(config: Config, source: SourceConfig) -> list[Path]:
    """The files currently matching ``source``'s glob, sorted."""
    pattern = Path(_pattern(config, source))
    anchor = Path(pattern.anchor)
    return sorted(p for p in anchor.glob(str(pattern.relative_to(anchor))) if p.is_file())


def ingest_sources(
    db: Database, config: Config, pseudonym_key: bytes | None, *, skip_ingested: bool = True
) -> Iterator[tuple[Path, IngestReport | MonitorError]]:
    """Ingest every file of every configured source, predictions before outcomes.

    Yields ``(path, report)``, or ``(path, error)`` for a file that could not be
    ingested (the others go on). With ``skip_ingested``, a file whose exact
    content was already ingested completely is skipped; an interrupted one resumes.
    """
    for source in sorted(config.sources, key=lambda s: s.kind != "predictions"):
        mapping = mapping_for(source, config.time.timezone, config.base_dir, read_limits(config))
        for path in source_files(config, source):
            if skip_ingested and completed_run(db, file_checksum(path), source.kind) is not None:
                continue
            try:
                report = ingest_file(
                    db,
                    path,
                    source.kind,
                    mapping=mapping,
                    source_name=source.name,
                    chunk_size=config.ingest.chunk_size,
                    keep_report_text=config.ingest.keep_report_text,
                    pseudonym_key=pseudonym_key,
                    fmt=source.format,
                )
            except MonitorError as exc:
                yield path, exc
                continue
            yield path, report
