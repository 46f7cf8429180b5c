"""Writing the analysis outputs into a folder."""

from __future__ import annotations

import json
import logging
from pathlib import Path

__all__ = ["write_outputs"]

logger = logging.getLogger(__name__)


def write_outputs(result, folder, *, report: bool = True) -> None:
    """Write cells.csv, regions.csv, groups.csv, labels.csv, curves.csv, plots/, summary.json and
    report.html into ``folder`` (which must exist; the CLI passes a temporary folder that is renamed
    into place when everything is written).
    """
    from her2net.report import build_report, summary_dict

    folder = Path(folder)
    result.cells.to_csv(folder / "cells.csv", index=False, float_format="%.6g")
    result.regions.to_csv(folder / "regions.csv", index=False, float_format="%.6g")
    result.groups.to_csv(folder / "groups.csv", index=False)
    result.labels.to_csv(folder / "labels.csv", index=False, float_format="%.6g")
    result.curves.to_csv(folder / "curves.csv", index=False, float_format="%.6g")
    with open(folder / "summary.json", "w", encoding="utf-8") as handle:
        json.dump(summary_dict(result), handle, indent=2)
    if report:
        plots: dict[str, bytes] = {}
        page = build_report(result, plots=plots)
        (folder / "plots").mkdir(exist_ok=True)
        for name, png in plots.items():
            (folder / "plots" / name).write_bytes(png)
        (folder / "report.html").write_text(page, encoding="utf-8")
    logger.debug("wrote the analysis files into %s", folder)
