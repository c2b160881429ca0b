"""Deployment settings, read from the environment, each with its help text."""

from __future__ import annotations

import os
from dataclasses import dataclass

from retainly.store.urls import DEFAULT_URL

DATABASE_URL_VARIABLE = "RETAINLY_DATABASE_URL"


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help: str

    def value(self) -> str:
        return os.environ.get(self.name) or self.default


DATABASE_URL = Setting(
    DATABASE_URL_VARIABLE,
    DEFAULT_URL,
    "Where the store lives: duckdb:///path.duckdb (default ./retainly.duckdb) or postgresql://user@host:port/db.",
)

def database_url(explicit: str | None = None) -> str:
    """The store URL: an explicit --db wins over the environment, which wins over the default."""
    return explicit or DATABASE_URL.value()


# -- analysis defaults ---------------------------------------------------------------------
SETTINGS_FILE_VARIABLE = "RETAINLY_SETTINGS"
SETTINGS_FILE = Setting(
    SETTINGS_FILE_VARIABLE,
    "retainly.toml",
    "The analysis settings file (activity window, RFM bins, segment map); read when it exists.",
)
SETTINGS = (DATABASE_URL, SETTINGS_FILE)


@dataclass(frozen=True)
class AnalysisSettings:
    """Analysis defaults a shop may change in its settings file; see docs/metrics.md."""

    activity_window_days: int = 365
    rfm_bins: int = 5
    segment_map: object = None  # a retainly.segments.segment_map.SegmentMap
    models: object = None  # a retainly.scores.scoring.ModelSettings
    lifecycle: object = None  # a retainly.segments.lifecycle.LifecycleSettings
    warning_signs: object = None  # a retainly.segments.warning_signs.WarningSettings

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> AnalysisSettings:
        """Read the settings file (explicit path, else $RETAINLY_SETTINGS, else ./retainly.toml if present)."""
        import tomllib
        from pathlib import Path

        from retainly.errors import InputError
        from retainly.segments.segment_map import SegmentMap

        chosen = Path(path) if path is not None else Path(SETTINGS_FILE.value())
        explicit = path is not None or SETTINGS_FILE_VARIABLE in os.environ
        if not chosen.exists():
            if explicit:
                raise InputError(f"settings file {chosen} does not exist; fix the path or unset {SETTINGS_FILE_VARIABLE}")
            return cls(segment_map=SegmentMap.default(), models=_model_settings({}, ""), **_lifecycle_settings({}, ""))
        try:
            data = tomllib.loads(chosen.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{chosen}: not valid TOML ({exc}); see docs/metrics.md for an example") from None
        kpis, rfm = data.get("kpis", {}), data.get("rfm", {})
        window = _positive_int(kpis, "activity_window_days", cls.activity_window_days, f"{chosen} [kpis]")
        bins = _positive_int(rfm, "bins", cls.rfm_bins, f"{chosen} [rfm]")
        models = _model_settings(data.get("models", {}), f"{chosen} [models]")
        return cls(window, bins, SegmentMap.from_settings(rfm, str(chosen)), models,
                   **_lifecycle_settings(data, str(chosen)))


def _lifecycle_settings(data: dict, where: str) -> dict:
    """The [lifecycle] and [warning_signs] sections: every key a positive number named as in the dataclass."""
    from retainly.segments.lifecycle import LifecycleSettings
    from retainly.segments.warning_signs import WarningSettings

    return {"lifecycle": _number_section(LifecycleSettings, data.get("lifecycle", {}), f"{where} [lifecycle]"),
            "warning_signs": _number_section(WarningSettings, data.get("warning_signs", {}),
                                             f"{where} [warning_signs]")}


def _number_section(kind, section: dict, where: str):
    from retainly.errors import InputError

    fields = kind.__dataclass_fields__
    unknown = sorted(set(section) - set(fields))
    if unknown:
        raise InputError(f"{where} has no setting {', '.join(unknown)}; known: {', '.join(fields)}")
    for key, value in section.items():
        whole = fields[key].type in ("int", int)
        good = (isinstance(value, int) if whole else isinstance(value, (int, float))) and not isinstance(value, bool)
        if not good or value <= 0:
            raise InputError(f"{where} {key} = {value!r}: give a {'whole ' if whole else ''}number above 0")
    return kind(**section)


def _model_settings(section: dict, where: str):
    """The [models] section: time_unit, horizon_days, discount_rate, min_repeat_buyers, penalizer."""
    from retainly.errors import InputError
    from retainly.features.model_summary import TIME_UNITS
    from retainly.scores.scoring import ModelSettings

    defaults = ModelSettings()
    unknown = set(section) - set(ModelSettings.__dataclass_fields__)
    if unknown:
        raise InputError(f"{where} has no setting {', '.join(sorted(unknown))}; known: "
                         f"{', '.join(ModelSettings.__dataclass_fields__)}")
    unit = section.get("time_unit", defaults.time_unit)
    if unit not in TIME_UNITS:
        raise InputError(f"{where} time_unit = {unit!r}: choose one of {', '.join(TIME_UNITS)}")
    rates = {}
    for key in ("discount_rate", "penalizer"):
        value = section.get(key, getattr(defaults, key))
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
            raise InputError(f"{where} {key} = {value!r}: give a number from 0 up to (not including) 1")
        rates[key] = float(value)
    return ModelSettings(
        time_unit=unit,
        horizon_days=_positive_int(section, "horizon_days", defaults.horizon_days, where),
        min_repeat_buyers=_positive_int(section, "min_repeat_buyers", defaults.min_repeat_buyers, where),
        **rates,
    )


def _positive_int(section: dict, key: str, default: int, where: str) -> int:
    from retainly.errors import InputError

    value = section.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InputError(f"{where} {key} = {value!r}: give a whole number of at least 1")
    return value
