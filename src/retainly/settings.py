"""Settings: deployment settings read from the environment, and the analysis settings file.

A leaf: it imports nothing from retainly but ``retainly.errors``, so every layer (store,
features, scores, segments, the workspace) may import its settings from here. Each domain's
settings dataclass lives here with its defaults; ``AnalysisSettings()`` is the whole set of
defaults, ``AnalysisSettings.load()`` the same read from a shop's settings file.
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from retainly.errors import InputError

# -- deployment settings -------------------------------------------------------------------
DEFAULT_URL = "duckdb:///retainly.duckdb"
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


SETTINGS_FILE_VARIABLE = "RETAINLY_SETTINGS"
SETTINGS_FILE = Setting(
    SETTINGS_FILE_VARIABLE,
    "retainly.toml",
    "The analysis settings file (activity window, RFM bins, segment map); read when it exists.",
)
OUTBOX_FOLDER = Setting(
    "RETAINLY_OUTBOX_DIR",
    "retainly-outbox",
    "Where channels without settings ([channels.<name>] in the settings file) write their deliveries, one "
    "<channel>.jsonl file each.",
)
ANALYTICS_URL = Setting(
    "RETAINLY_ANALYTICS_URL",
    "",
    "Where the analytic queries run: store (the default: the store itself), spark://local[N] or sc://host:port "
    "(overrides [analytics] url in the settings file).",
)
DUCKDB_MEMORY = Setting(
    "RETAINLY_DUCKDB_MEMORY",
    "",
    "The most memory DuckDB may use for an embedded store, e.g. 6GB (default DuckDB's own, 80 % of the machine's); "
    "beyond it DuckDB spills to disk, slower but within bounds.",
)
SETTINGS = (DATABASE_URL, SETTINGS_FILE, OUTBOX_FOLDER, ANALYTICS_URL, DUCKDB_MEMORY)


# -- [models] --------------------------------------------------------------------------------
TIME_UNITS = {"day": 1.0, "week": 7.0}  # the models' time units, in days


@dataclass(frozen=True)
class ModelSettings:
    """The [models] section of the settings file (docs/models.md)."""

    time_unit: str = "week"
    horizon_days: int = 365
    discount_rate: float = 0.01  # per month
    min_repeat_buyers: int = 50
    penalizer: float = 0.0
    order_window_days: int = 90  # the window of the calibrated chance to order a manager sees
    # The backtest and the chance-to-order check read at most this many customers (every k-th by id);
    # the fit and the predictions always read every customer.
    check_customers: int = 1_000_000


# -- [lifecycle] and [warning_signs] -----------------------------------------------------------
@dataclass(frozen=True)
class LifecycleSettings:
    """The [lifecycle] section of the settings file (docs/lifecycle.md)."""

    new_days: int = 60
    won_back_days: int = 90
    at_risk_rhythms: float = 1.5
    lapsed_rhythms: float = 3.0
    lost_rhythms: float = 6.0
    at_risk_floor_days: int = 30
    lapsed_floor_days: int = 90
    lost_floor_days: int = 180
    lost_after_days: int = 730
    at_risk_p_alive: float = 0.6
    lapsed_p_alive: float = 0.3
    lost_p_alive: float = 0.1
    vip_share: float = 0.05


@dataclass(frozen=True)
class WarningSettings:
    """The [warning_signs] section of the settings file (retainly.segments.warning_signs)."""

    overdue_rhythms: float = 1.5
    overdue_floor_days: int = 14
    slowing_factor: float = 2.0
    spending_factor: float = 0.6
    returns_days: int = 90
    contacts_days: int = 180
    visits_days: int = 60
    fading_days: int = 90
    fading_drop: float = 0.2


# -- [import] ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ImportSettings:
    """The [import] section of the settings file (docs/import.md): the dates an import accepts.

    A row dated before ``earliest_date`` or more than ``latest_days_ahead`` days after the day
    the import runs is rejected: such dates are typing or export mistakes (9999-12-31), and
    every analysis would have to carry them.
    """

    earliest_date: date = date(1990, 1, 1)
    latest_days_ahead: int = 1


def _import_settings(section: dict, where: str) -> ImportSettings:
    _known_keys(ImportSettings, section, where)
    defaults = ImportSettings()
    earliest = section.get("earliest_date", defaults.earliest_date)
    if isinstance(earliest, str):
        try:
            earliest = date.fromisoformat(earliest)
        except ValueError:
            pass
    if not isinstance(earliest, date) or hasattr(earliest, "hour"):
        raise InputError(f'{where} earliest_date = {earliest!r}: give a date like "1990-01-01"')
    ahead = section.get("latest_days_ahead", defaults.latest_days_ahead)
    if not isinstance(ahead, int) or isinstance(ahead, bool) or ahead < 0:
        raise InputError(f"{where} latest_days_ahead = {ahead!r}: give a whole number of days, 0 or more")
    return ImportSettings(earliest, ahead)


# -- [rfm]: the score-to-segment map ------------------------------------------------------------
# Which named segment each (R, FM) score pair belongs to. FM is the rounded-up mean of the
# frequency and monetary scores. The map is a grid with one row per recency score (best first)
# and one column per FM score, so a shop can read it (and override it) at a glance in its
# settings file (``docs/metrics.md`` shows how).

SEGMENTS = (
    "Champions", "Loyal", "Potential Loyalist", "New", "Promising", "Need Attention",
    "About to Sleep", "At Risk", "Can't Lose Them", "Hibernating", "Lost",
)

# Rows: recency score 5 (bought most recently) down to 1; columns: FM score 1 to 5.
DEFAULT_GRID = (
    ("New", "Potential Loyalist", "Potential Loyalist", "Champions", "Champions"),
    ("Promising", "Potential Loyalist", "Loyal", "Loyal", "Champions"),
    ("About to Sleep", "Need Attention", "Need Attention", "Loyal", "Loyal"),
    ("Hibernating", "About to Sleep", "At Risk", "At Risk", "Can't Lose Them"),
    ("Lost", "Hibernating", "At Risk", "Can't Lose Them", "Can't Lose Them"),
)

DEFAULT_ACTIONS = {
    "Champions": "Reward them: VIP perks, early access, ask for reviews and referrals; no discounts needed.",
    "Loyal": "Keep them close: loyalty rewards, cross-sell and upsell, ask for feedback.",
    "Potential Loyalist": "Nurture toward loyalty: membership or loyalty offer, recommendations from their purchases.",
    "New": "Welcome them: thank-you and onboarding, a reason for the second order.",
    "Promising": "Build the habit: second-order nudge, show the range, a small first-repeat incentive.",
    "Need Attention": "Re-engage: personalised recommendations and a limited-time offer before they drift.",
    "About to Sleep": "Wake them up: reminders of what they liked, popular products, a modest incentive.",
    "At Risk": "Win back now: personal email or call, what changed, a meaningful offer.",
    "Can't Lose Them": "Call them: your best customers are drifting away; a manager should reach out personally.",
    "Hibernating": "Low-cost reactivation: seasonal campaigns and relevant offers; don't overspend.",
    "Lost": "Last try with a win-back campaign; otherwise stop spending on them.",
}


@dataclass(frozen=True)
class SegmentMap:
    grid: tuple[tuple[str, ...], ...]  # grid[0] is the best recency score
    actions: dict[str, str]

    @property
    def size(self) -> int:
        return len(self.grid)

    def cell(self, recency_score: int, fm_score: int) -> str:
        return self.grid[self.size - recency_score][fm_score - 1]

    def segments(self) -> list[str]:
        """Segment names in the map, in the order of first appearance (best first)."""
        seen: dict[str, None] = {}
        for row in self.grid:
            for name in row:
                seen.setdefault(name)
        return list(seen)

    def action(self, segment: str) -> str:
        return self.actions.get(segment, "")

    def grid_score(self, score: int, bins: int) -> int:
        """A score on ``bins`` bins placed on the grid's scale (the same when they match)."""
        return score if bins == self.size else max(1, math.ceil(score * self.size / bins))

    @classmethod
    def default(cls) -> SegmentMap:
        return cls(DEFAULT_GRID, dict(DEFAULT_ACTIONS))

    @classmethod
    def from_settings(cls, section: dict, source: str) -> SegmentMap:
        """The map from an ``[rfm]`` settings section: ``grid`` rows best recency first, ``actions``."""
        grid = section.get("grid")
        if grid is None:
            grid = DEFAULT_GRID
        elif (not isinstance(grid, list) or not grid
              or any(not isinstance(row, list) or len(row) != len(grid) for row in grid)
              or any(not isinstance(name, str) or not name.strip() for row in grid for name in row)):
            raise InputError(
                f"{source}: [rfm] grid must be a square list of lists of segment names, one row per recency "
                f"score from best to worst, one column per FM score from 1 up (see docs/metrics.md)"
            )
        actions = dict(DEFAULT_ACTIONS)
        extra = section.get("actions", {})
        if not isinstance(extra, dict) or any(not isinstance(v, str) for v in extra.values()):
            raise InputError(f'{source}: [rfm.actions] must map segment names to text, e.g. "Lost" = "..."')
        actions.update(extra)
        return cls(tuple(tuple(name.strip() for name in row) for row in grid), actions)


# -- the analysis settings file -------------------------------------------------------------
@dataclass(frozen=True)
class ActionSettings:
    """[actions]: frequency caps, quiet hours and timing of the run loop (docs/playbooks.md)."""

    email_per_week: int = 2  # marketing messages per customer and channel, across all playbooks
    sms_per_week: int = 1
    quiet_start_hour: int = 21  # no message is due from this hour ...
    quiet_end_hour: int = 9  # ... to this one (the shop's local time); equal hours: no quiet hours
    late_days: int = 7  # a step more than this many days overdue (runs stopped a while) is skipped
    lease_seconds: int = 900  # a delivery claimed longer ago than this by a crashed run is "unknown"
    soft_bounce_limit: int = 3  # soft bounces of a customer's email that suppress it (docs/email.md)


def _action_settings(section: dict, where: str) -> ActionSettings:
    _known_keys(ActionSettings, section, where)
    for key, value in section.items():
        top = 23 if key.endswith("_hour") else None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0 or (top is not None and value > top):
            raise InputError(f"{where} {key} = {value!r}: give a whole number from 0"
                             + (f" to {top}" if top is not None else ""))
    return ActionSettings(**section)


ASSIGNMENT_RULES = ("round_robin", "region", "segment", "usual")


@dataclass(frozen=True)
class TaskSettings:
    """[tasks]: how managers' tasks are assigned, worked and reported (docs/tasks.md)."""

    assign: str = "round_robin"  # or region, segment, usual (the customer's last manager)
    daily_limit: int = 20  # new tasks per manager and day, unless the manager has their own
    due_hours: int = 24  # a playbook's task is due this long after it is made
    max_no_answer: int = 3  # "no answer" this many times closes the task
    pause_discounts: bool = True  # no automated message with an offer to a customer with an open task
    feedback_tasks: bool = True  # a feedback score of 0-6 (a detractor) makes a task
    overdue_flag_days: int = 2  # the supervisor's view flags tasks overdue by more than this
    order_days: int = 14  # orders within this many days after a reached call count for the manager
    digest: bool = True  # `retainly run` emails each manager their day's tasks once a day
    urgent_channel: str = ""  # a [channels.<name>] webhook told of each new urgent task


def _task_settings(section: dict, where: str) -> TaskSettings:
    _known_keys(TaskSettings, section, where)
    for key, value in section.items():
        kind = TaskSettings.__dataclass_fields__[key].type
        if kind in ("bool", bool) and not isinstance(value, bool):
            raise InputError(f"{where} {key} = {value!r}: give true or false")
        if kind in ("int", int) and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise InputError(f"{where} {key} = {value!r}: give a whole number from 0")
        if kind in ("str", str) and not isinstance(value, str):
            raise InputError(f"{where} {key} = {value!r}: give a text")
    if section.get("assign", "round_robin") not in ASSIGNMENT_RULES:
        raise InputError(f"{where} assign = {section['assign']!r}: choose one of {', '.join(ASSIGNMENT_RULES)}")
    return TaskSettings(**section)


@dataclass(frozen=True)
class ExportSettings:
    """[exports]: what audience exports fall back on when an export's options do not say (docs/exports.md)."""

    default_country: str = ""  # ISO-2: phones without their country code are read as this country's
    folder: str = "retainly-exports"  # where file exports are written


def _export_settings(section: dict, where: str) -> ExportSettings:
    _known_keys(ExportSettings, section, where)
    for key, value in section.items():
        if not isinstance(value, str) or not value.strip():
            raise InputError(f"{where} {key} = {value!r}: give a text, e.g. default_country = \"US\"")
    return ExportSettings(**{key: value.strip() for key, value in section.items()})


@dataclass(frozen=True)
class ExperimentSettings:
    """[experiments]: the global control group and offer targeting (docs/experiments.md)."""

    global_control_share: float = 0.0  # of all customers, kept out of every playbook (0: no global control)
    global_control_since: date | None = None  # the day the global control group began
    global_control_salt: str = "global-control"  # changing it draws a new group
    target_offers: tuple[str, ...] = ()  # playbooks whose offers go only where they pay ("all": every one)
    margin: float = 0.4  # the shop's gross margin on revenue
    offer_test_share: float = 0.2  # of a targeted playbook's treated customers: offered or not at random
    offer_cost: float = 0.1  # share of revenue an offer gives away when its text names no "N %"
    min_per_arm: int = 200  # ended enrolments each arm needs before targeting replaces the default


def _experiment_settings(section: dict, where: str) -> ExperimentSettings:
    _known_keys(ExperimentSettings, section, where)
    values = dict(section)
    for key in ("global_control_share", "margin", "offer_test_share", "offer_cost"):
        if key in values:
            value, top = values[key], 0.5 if key == "global_control_share" else 1.0
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= top:
                raise InputError(f"{where} {key} = {value!r}: give a number from 0 to {top}")
            values[key] = float(value)
    if "min_per_arm" in values and (isinstance(values["min_per_arm"], bool)
                                    or not isinstance(values["min_per_arm"], int) or values["min_per_arm"] < 2):
        raise InputError(f"{where} min_per_arm = {values['min_per_arm']!r}: give a whole number from 2")
    since = values.get("global_control_since")
    if since is not None and (isinstance(since, datetime) or not isinstance(since, date)):
        raise InputError(f"{where} global_control_since = {since!r}: give a date without quotes, e.g. 2026-01-01")
    if values.get("global_control_share", 0) > 0 and since is None:
        raise InputError(f"{where} global_control_share is set: also give global_control_since, the day the "
                         "group began (a date without quotes, e.g. 2026-01-01)")
    if not isinstance(values.get("global_control_salt", "x"), str) or not values.get("global_control_salt", "x"):
        raise InputError(f"{where} global_control_salt = {values['global_control_salt']!r}: give a text")
    targets = values.get("target_offers", [])
    if isinstance(targets, str):
        targets = [targets]
    if not isinstance(targets, list) or not all(isinstance(name, str) and name for name in targets):
        raise InputError(f"{where} target_offers = {targets!r}: give playbook names, e.g. [\"win-back-180\"], "
                         "or \"all\"")
    values["target_offers"] = tuple(targets)
    return ExperimentSettings(**values)


@dataclass(frozen=True)
class AnalyticsSettings:
    """[analytics]: the engine the analytic queries run on (docs/scale.md); [analytics.spark]: Spark's own settings."""

    url: str = "store"  # store, spark://local[N] or sc://host:port
    warehouse: str = "retainly-warehouse"  # where the store's tables are published as Parquet for Spark
    mapping: str = ""  # a lakehouse mapping file: tables Spark reads from the shop's lakehouse instead
    source: str = "publish"  # how Spark reads the store: published Parquet copies, or "jdbc" (PostgreSQL)
    spark: dict = field(default_factory=dict)  # e.g. {"spark.driver.memory": "8g"}


def _analytics_settings(section: dict, where: str) -> AnalyticsSettings:
    _known_keys(AnalyticsSettings, section, where)
    values = dict(section)
    for key in ("url", "warehouse", "mapping"):
        if key in values and (not isinstance(values[key], str) or not values[key].strip()):
            raise InputError(f"{where} {key} = {values[key]!r}: give a text, e.g. url = \"spark://local[2]\"")
    if values.get("source", "publish") not in ("publish", "jdbc"):
        raise InputError(f"{where} source = {values['source']!r}: use publish (Parquet copies of the store's "
                         "tables) or jdbc (read from PostgreSQL as Spark needs it)")
    spark = values.get("spark", {})
    if not isinstance(spark, dict) or not all(isinstance(v, (str, int, float, bool)) for v in spark.values()):
        raise InputError(f"{where}.spark: give Spark settings as keys and values, "
                         "e.g. \"spark.driver.memory\" = \"8g\"")
    values["spark"] = {key: str(value).lower() if isinstance(value, bool) else str(value)
                       for key, value in spark.items()}
    if ANALYTICS_URL.value():
        values["url"] = ANALYTICS_URL.value()
    return AnalyticsSettings(**values)


@dataclass(frozen=True)
class AnalysisSettings:
    """Analysis defaults a shop may change in its settings file; see docs/metrics.md."""

    activity_window_days: int = 365
    rfm_bins: int = 5
    segment_map: SegmentMap = field(default_factory=SegmentMap.default)
    models: ModelSettings = field(default_factory=ModelSettings)
    lifecycle: LifecycleSettings = field(default_factory=LifecycleSettings)
    warning_signs: WarningSettings = field(default_factory=WarningSettings)
    imports: ImportSettings = field(default_factory=ImportSettings)
    actions: ActionSettings = field(default_factory=ActionSettings)
    # [channels.<name>]: how each channel delivers (retainly.messaging.channels.make_channel);
    # a channel not named here writes to a file in ./retainly-outbox/.
    channels: dict = field(default_factory=dict)
    tasks: TaskSettings = field(default_factory=TaskSettings)
    exports: ExportSettings = field(default_factory=ExportSettings)
    experiments: ExperimentSettings = field(default_factory=ExperimentSettings)
    analytics: AnalyticsSettings = field(default_factory=lambda: _analytics_settings({}, "[analytics]"))

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> AnalysisSettings:
        """Read the settings file (explicit path, else $RETAINLY_SETTINGS, else ./retainly.toml if present)."""
        chosen = Path(path) if path is not None else Path(SETTINGS_FILE.value())
        explicit = path is not None or SETTINGS_FILE_VARIABLE in os.environ
        if not chosen.exists():
            if explicit:
                raise InputError(f"settings file {chosen} does not exist; fix the path or unset "
                                 f"{SETTINGS_FILE_VARIABLE}")
            return cls()  # [analytics] from the environment: see the field's default
        try:
            data = tomllib.loads(chosen.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{chosen}: not valid TOML ({exc}); see docs/metrics.md for an example") from None
        kpis, rfm = data.get("kpis", {}), data.get("rfm", {})
        window = _positive_int(kpis, "activity_window_days", cls.activity_window_days, f"{chosen} [kpis]")
        bins = _positive_int(rfm, "bins", cls.rfm_bins, f"{chosen} [rfm]")
        models = _model_settings(data.get("models", {}), f"{chosen} [models]")
        segment_map = SegmentMap.from_settings(rfm, str(chosen))
        lifecycle = _number_section(LifecycleSettings, data.get("lifecycle", {}), f"{chosen} [lifecycle]")
        warning = _number_section(WarningSettings, data.get("warning_signs", {}), f"{chosen} [warning_signs]")
        imports = _import_settings(data.get("import", {}), f"{chosen} [import]")
        actions = _action_settings(data.get("actions", {}), f"{chosen} [actions]")
        channels = data.get("channels", {})
        if not all(isinstance(options, dict) for options in channels.values()):
            raise InputError(f"{chosen} [channels]: give each channel its own table, e.g. [channels.sms]")
        tasks = _task_settings(data.get("tasks", {}), f"{chosen} [tasks]")
        exports = _export_settings(data.get("exports", {}), f"{chosen} [exports]")
        experiments = _experiment_settings(data.get("experiments", {}), f"{chosen} [experiments]")
        analytics = _analytics_settings(data.get("analytics", {}), f"{chosen} [analytics]")
        return cls(window, bins, segment_map, models, lifecycle, warning, imports, actions, channels, tasks=tasks,
                   exports=exports, experiments=experiments, analytics=analytics)


def _known_keys(kind: type, section: dict, where: str) -> None:
    """Refuse a key that is not a field of the settings dataclass ``kind``."""
    fields = kind.__dataclass_fields__
    unknown = sorted(set(section) - set(fields))
    if unknown:
        raise InputError(f"{where} has no setting {', '.join(unknown)}; known: {', '.join(fields)}")


def _number_section(kind: type, section: dict, where: str):
    """A section whose every key is a positive number, whole where the dataclass field is an int."""
    _known_keys(kind, section, where)
    fields = kind.__dataclass_fields__
    for key, value in section.items():
        whole = fields[key].type in ("int", int)
        good = (isinstance(value, int) if whole else isinstance(value, (int, float))) and not isinstance(value, bool)
        if not good or value <= 0:
            raise InputError(f"{where} {key} = {value!r}: give a {'whole ' if whole else ''}number above 0")
    return kind(**section)


def _model_settings(section: dict, where: str) -> ModelSettings:
    """The [models] section: time_unit, horizon_days, discount_rate, min_repeat_buyers, penalizer,
    order_window_days, check_customers."""
    _known_keys(ModelSettings, section, where)
    defaults = ModelSettings()
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
        order_window_days=_positive_int(section, "order_window_days", defaults.order_window_days, where),
        check_customers=_positive_int(section, "check_customers", defaults.check_customers, where),
        **rates,
    )


def _positive_int(section: dict, key: str, default: int, where: str) -> int:
    value = section.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InputError(f"{where} {key} = {value!r}: give a whole number of at least 1")
    return value
