"""Files small on disk and huge once read are refused, each read under 500 MB.

Each bomb is made here (nothing large is stored in the repository) and read in a
fresh Python process whose peak resident memory is its ``ru_maxrss``. Before the
bounds, the DICOM bomb took pydicom's whole inflation (gigabytes) and the Parquet
bombs decoded to 1-2 GB.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zlib
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydicom import dcmwrite
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filereader import _read_file_meta_info, read_preamble
from pydicom.uid import DeflatedExplicitVRLittleEndian

from connectors.csv_reader import read_csv
from connectors.dicom_sr import read_dicom_sr
from connectors.errors import ConnectorError
from connectors.limits import ReadLimits
from connectors.mapping import SourceMapping
from connectors.messages import read_messages
from monitor.config import load_config
from monitor.sources import read_limits

PEAK_LIMIT_MIB = 500

_READ = """
import json, sys
from pathlib import Path
from zoneinfo import ZoneInfo
kind, path = sys.argv[1], Path(sys.argv[2])
outcome = "read"
if kind == "dicom":
    from connectors.dicom_sr import read_dicom_sr
    result = read_dicom_sr(path.read_bytes(), tz=ZoneInfo("UTC"), name=path.name)
    outcome = getattr(result, "reason", "read")
else:
    from connectors.errors import ConnectorError
    from connectors.mapping import SourceMapping
    from connectors.parquet_reader import read_parquet
    try:
        for _ in read_parquet(path, "predictions", SourceMapping(), 5000):
            pass
    except ConnectorError as exc:
        outcome = str(exc)
# VmHWM, not ru_maxrss: the latter is inherited through exec from the test process.
status = Path("/proc/self/status").read_text().splitlines()
peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
print(json.dumps({"outcome": outcome, "peak_mib": peak}))
"""


def _read_in_a_fresh_process(kind: str, path: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _READ, kind, str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _deflated_sr_bomb(path: Path, inflated_mib: int) -> Path:
    """A Part 10 file with a deflated dataset holding one private OB element of
    ``inflated_mib`` MiB of zeros (about 1 KB a MiB on disk)."""
    dataset = Dataset()
    dataset.SOPClassUID = "1.2.840.10008.5.1.4.1.1.88.22"
    dataset.SOPInstanceUID = "1.2.826.0.1.3680043.10.1.1"
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.MediaStorageSOPClassUID = dataset.SOPClassUID
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    dataset.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    buffer = io.BytesIO()
    dcmwrite(buffer, dataset, enforce_file_format=True)
    source = io.BytesIO(buffer.getvalue())
    read_preamble(source, False)
    _read_file_meta_info(source)
    size = inflated_mib * 1024 * 1024
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    parts = [deflate.compress(b"\x11\x00\x10\x10OB\x00\x00" + size.to_bytes(4, "little"))]
    zeros = bytes(1024 * 1024)
    parts += [deflate.compress(zeros) for _ in range(inflated_mib)]
    parts.append(deflate.flush())
    path.write_bytes(buffer.getvalue()[: source.tell()] + b"".join(parts))
    return path


def _wide_parquet(path: Path, rows: int, width: int, dictionary: bool) -> Path:
    """``rows`` rows whose ``device_version`` is ``width`` characters, written a part
    at a time (never the whole file's values in this process's memory)."""
    # A dictionary column holds its one value once: the file is one row group.
    part = rows if dictionary else max(1, min(rows, 32 * 1024 * 1024 // width))
    schema = None
    writer = None
    try:
        for start in range(0, rows, part):
            n = min(part, rows - start)
            version = (
                pa.DictionaryArray.from_arrays(pa.array([0] * n, pa.int32()), ["v" * width])
                if dictionary
                else pa.array(["v" * width] * n)
            )
            table = pa.table(
                {
                    "device_id": ["frac"] * n,
                    "device_version": version,
                    "exam_datetime": ["2025-01-01T00:00:00"] * n,
                    "ai_result": ["positive"] * n,
                    "accession_number": [f"A{start + i}" for i in range(n)],
                }
            )
            if writer is None:
                schema = table.schema
                writer = pq.ParquetWriter(
                    path, schema, compression="zstd", use_dictionary=dictionary
                )
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    return path


def test_a_deflated_dicom_sr_that_inflates_to_a_gigabyte_is_refused(tmp_path: Path) -> None:
    bomb = _deflated_sr_bomb(tmp_path / "bomb.dcm", 1024)
    assert bomb.stat().st_size < 2 * 1024 * 1024
    result = _read_in_a_fresh_process("dicom", bomb)
    assert "decompression bomb" in str(result["outcome"])
    assert float(result["peak_mib"]) < PEAK_LIMIT_MIB  # type: ignore[arg-type]


def test_a_small_deflated_dicom_sr_still_reads(tmp_path: Path) -> None:
    """Below the bound the deflated file goes on to pydicom (here: not an AI SR)."""
    small = _deflated_sr_bomb(tmp_path / "small.dcm", 1)
    result = _read_in_a_fresh_process("dicom", small)
    assert "decompression bomb" not in str(result["outcome"])


@pytest.mark.parametrize(
    ("rows", "width", "dictionary", "refused"),
    [
        (20_000, 200_000, False, "a cell may hold"),  # 4 GB decoded, 0.4 MB on disk
        (20_000, 100_000, True, "read at once"),  # the same, dictionary-encoded
        (200_000, 5_000, True, None),  # 1 GB decoded: read batch by batch, bounded
    ],
)
def test_a_parquet_bomb_is_refused_or_read_in_bounded_batches(
    tmp_path: Path, rows: int, width: int, dictionary: bool, refused: str | None
) -> None:
    bomb = _wide_parquet(tmp_path / "bomb.parquet", rows, width, dictionary)
    assert bomb.stat().st_size < 1024 * 1024
    result = _read_in_a_fresh_process("parquet", bomb)
    if refused is None:
        assert result["outcome"] == "read"
    else:
        assert refused in str(result["outcome"]) and "decompression bomb" in str(result["outcome"])
    assert float(result["peak_mib"]) < PEAK_LIMIT_MIB  # type: ignore[arg-type]


def test_the_bounds_come_from_the_configuration(tmp_path: Path) -> None:
    """``[ingest]`` sets each reader's bound; a message file over its bound is refused
    before it is read whole, a CSV cell over its bound stops the file with the key."""
    config_path = tmp_path / "dmn-monitor.toml"
    config_path.write_text(
        "[ingest]\nmax_message_file_bytes = 1048576\nmax_cell_bytes = 2048\n"
        "max_inflated_bytes = 2097152\nmax_batch_bytes = 4194304\n",
        encoding="utf-8",
    )
    limits = read_limits(load_config(config_path))
    assert limits == ReadLimits(2097152, 2048, 4194304, 1048576)
    mapping = SourceMapping(limits=limits)
    big = tmp_path / "feed.hl7"
    big.write_bytes(b"MSH|^~\\&|RIS\r" + b"NTE|1||x\r" * 200_000)
    with pytest.raises(ConnectorError, match=r"ingest\.max_message_file_bytes"):
        list(read_messages(big, "outcomes", mapping, 100, "hl7"))
    wide = tmp_path / "wide.csv"
    header = "accession_number,outcome,source,outcome_datetime\n"
    row = f"A1,positive,report,2025-01-01T10:00:00,{'x' * 5000}\n"
    wide.write_text(header.replace("\n", ",note\n") + row, encoding="utf-8")
    with pytest.raises(ConnectorError, match=r"ingest\.max_cell_bytes"):
        list(read_csv(wide, "outcomes", mapping, 100))
    bomb = _deflated_sr_bomb(tmp_path / "bomb.dcm", 3)
    result = read_dicom_sr(bomb.read_bytes(), tz=ZoneInfo("UTC"), max_inflated=2 * 1024 * 1024)
    assert "ingest.max_inflated_bytes" in getattr(result, "reason", "")
