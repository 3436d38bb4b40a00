"""The QGIS plugin as a zip for Plugins > Manage and Install Plugins > Install from ZIP.

The plugin's sources live in sclzonal/qgis/plugin/ (package data of the wheel); the zip holds them
in one top-level folder, `sclzonal_qgis`, with metadata.txt carrying this sclzonal's version.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from sclzonal import __version__
from sclzonal.errors import UserError

PLUGIN_FOLDER = "sclzonal_qgis"
"""The plugin's folder name in the zip, and so in QGIS's python/plugins."""
SHIPPED = (".py", ".txt", ".svg")


@dataclass(frozen=True)
class PluginZip:
    """What `build_plugin_zip` wrote."""

    path: Path
    version: str
    names: list[str]


def plugin_sources() -> dict[str, bytes]:
    """Return the plugin's files, name -> content, with the version set in metadata.txt."""
    folder = files("sclzonal.qgis").joinpath("plugin")
    found: dict[str, bytes] = {}
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if entry.is_file() and entry.name.endswith(SHIPPED):
            found[entry.name] = entry.read_bytes()
    if "metadata.txt" not in found or "__init__.py" not in found:
        raise UserError(f"the plugin's sources are incomplete in {folder}: reinstall sclzonal")
    lines = found["metadata.txt"].decode("utf-8").splitlines()
    lines = [f"version={__version__}" if line.startswith("version=") else line for line in lines]
    found["metadata.txt"] = ("\n".join(lines) + "\n").encode("utf-8")
    return found


def build_plugin_zip(output: Path) -> PluginZip:
    """Write the plugin zip to `output` (replacing it whole, never half-written)."""
    output = Path(output)
    if not output.parent.is_dir():
        raise UserError(f"--output {output}: the folder {output.parent} does not exist")
    sources = plugin_sources()
    handle, temporary = tempfile.mkstemp(prefix=f".{output.name}.", dir=output.parent)
    os.close(handle)
    try:
        with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(zipfile.ZipInfo(f"{PLUGIN_FOLDER}/"), b"")
            for name, content in sources.items():
                archive.writestr(f"{PLUGIN_FOLDER}/{name}", content)
        os.chmod(temporary, 0o644)
        os.replace(temporary, output)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return PluginZip(output, __version__, [f"{PLUGIN_FOLDER}/{name}" for name in sources])
