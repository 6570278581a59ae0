"""Importers: results our users already have, written as normal run directories.

Each importer validates everything before it writes anything, names the file, field and
what was expected on bad input, and writes the run atomically (a failed import leaves no
run directory behind). Adding one is one module and one registration.
"""

from __future__ import annotations

from generator.importers.base import ImportValidationError, Importer, import_run
from generator.registry import Registry

IMPORTERS: Registry[Importer] = Registry("importer")


def register_importer(importer: Importer) -> Importer:
    return IMPORTERS.register(importer.kind, importer)


from generator.importers import activations, salient_thoughts, trajectories  # noqa: E402

for _module in (salient_thoughts, activations, trajectories):
    register_importer(_module.IMPORTER)

__all__ = ["IMPORTERS", "ImportValidationError", "Importer", "import_run", "register_importer"]
