"""What every sclzonal algorithm shares: running the CLI with the provider's settings, in the dialog's log.

Each line sclzonal prints on stderr (notes, and with -v each step's timing) goes to the Processing
dialog's log as it comes; a failing command fails the algorithm with the command's one-line error.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsSettings,
)

from . import runner

HELP = ("Runs the sclzonal command line (Processing > Options > Providers > sclzonal: its path and "
        "the database; default: found on PATH, and QGIS's DATABASE_URL or PG* variables). "
        "Its notes go to this log; when it fails, its one-line error is this algorithm's error.")


def current_settings() -> runner.Settings:
    """Return the provider's settings as stored in QGIS's settings now."""
    stored = QgsSettings()

    def value(name: str) -> str:
        found = stored.value(runner.SETTINGS_PREFIX + name, "")
        return str(found).strip() if found is not None else ""

    return runner.Settings(executable=value(runner.EXECUTABLE), database_url=value(runner.DATABASE_URL),
                           pg_service=value(runner.PG_SERVICE))


class SclzonalAlgorithm(QgsProcessingAlgorithm):
    """An algorithm that runs one or more sclzonal commands."""

    NAME = ""
    TITLE = ""
    DESCRIPTION = ""

    def name(self) -> str:
        """Return the algorithm's id within the provider."""
        return self.NAME

    def displayName(self) -> str:
        """Return the title shown in the toolbox."""
        return self.TITLE

    def shortHelpString(self) -> str:
        """Return what the algorithm does, and how it runs sclzonal."""
        return f"{self.DESCRIPTION}\n\n{HELP}"

    def createInstance(self) -> QgsProcessingAlgorithm:
        """Return a new instance of the same algorithm."""
        return type(self)()

    def cli(self, args: Sequence[str], feedback: QgsProcessingFeedback, *, as_json: bool = False,
            progress: tuple[float, float] = (0, 100)) -> object:
        """Run `sclzonal ARGS`; return its JSON object (as_json) or its stdout text.

        Its progress bars move the dialog's between progress[0] and progress[1] %.
        QgsProcessingException with the command's one-line error when it fails.
        """
        settings = current_settings()
        feedback.pushCommandInfo("sclzonal " + " ".join(shlex.quote(arg) for arg in args))
        low, high = progress

        def on_progress(what: str, percent: float | None) -> None:
            feedback.setProgressText(what)
            if percent is not None:
                feedback.setProgress(low + (high - low) * min(percent, 100.0) / 100.0)

        options = {"on_note": feedback.pushInfo, "on_progress": on_progress,
                   "canceled": feedback.isCanceled}
        try:
            if as_json:
                return runner.run_json(args, settings, **options)
            return runner.run(args, settings, **options)
        except runner.CliFailed as exc:
            raise QgsProcessingException(str(exc)) from None

    def text(self, parameters: dict, name: str, context: QgsProcessingContext) -> str:
        """Return a string parameter stripped: its value, else its default, else ''."""
        return (self.parameterAsString(parameters, name, context) or "").strip()

    def number(self, parameters: dict, name: str, context: QgsProcessingContext) -> float | None:
        """Return an optional number parameter (None when not set)."""
        if parameters.get(name) is None or parameters.get(name) == "":
            return None
        return self.parameterAsDouble(parameters, name, context)
