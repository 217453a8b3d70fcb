"""What every conversion shares: its error type and the metadata lstmd reads (Protocols/model-format.md §3)
plus the provenance the converter records."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Dict, Optional, Sequence, Union

from .. import __version__


class ConversionError(ValueError):
    """A source model the converter cannot map exactly onto lstmd's LSTM; the message says why."""


def provenance_metadata(source: Union[Path, str, None], data: Optional[bytes], *, source_format: str,
                        framework: str, gate_mapping: str, input_scale: float, sequence_length: Optional[int],
                        labels: Optional[Sequence[str]], classes: int,
                        extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """lstmd's metadata for a converted model: format keys, input scale, sequence length, labels, and where
    it came from (source format, file name, SHA-256 of the file's bytes, framework) and the gate mapping.
    The Model made with it checks the values against lstmd's limits (lstmd.model.check_metadata)."""
    names = [str(i) for i in range(classes)] if labels is None else [str(label) for label in labels]
    if len(names) != classes:
        raise ConversionError(f"{len(names)} labels given for a classifier of {classes} classes")
    metadata = {
        "format": "lstmd-lstm",
        "format_version": "1",
        "input_scale": repr(float(input_scale)),
        "labels": json.dumps(names, separators=(",", ":"), ensure_ascii=False),
        "source_format": source_format,
        "source_framework": framework,
        "gate_mapping": gate_mapping,
        "trainer": f"lstmd.convert {__version__} (converted from {source_format})",
    }
    if sequence_length is not None:
        metadata["sequence_length"] = str(sequence_length)
    if source is not None:
        metadata["source_file"] = Path(source).name
    if data is not None:
        metadata["source_sha256"] = hashlib.sha256(data).hexdigest()
    metadata.update(extra or {})
    return metadata
