"""Line configuration: one TOML file per line, validated once, errors that name the key.

The section and key names the contract fixes are `[line]`, `[camera]`, `[vision]`,
`[downtime]`, `[inspection]`, `[store]`, `[[shift]]`, `[[reason]]` and `[mqtt]`.
Every model forbids unknown keys. Relative paths resolve against the config file's
folder; secrets (the MQTT password) come from the environment only.
"""

from __future__ import annotations

import os
import re
import tomllib
from datetime import time
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from agent.errors import ConfigError
from agent.inspection import FEATURE_VIEWS

#: An MQTT topic level or Sparkplug id: no `/`, `+`, `#` or white space.
_TOPIC_LEVEL = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")

#: Environment variables the MQTT credentials come from (never the file).
MQTT_USERNAME_ENV = "OEE_MQTT_USERNAME"
MQTT_PASSWORD_ENV = "OEE_MQTT_PASSWORD"  # noqa: S105 - a variable name, not a secret


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class Direction(StrEnum):
    """Which way parts flow through the ROI."""

    LEFT_TO_RIGHT = "left_to_right"
    RIGHT_TO_LEFT = "right_to_left"
    TOP_TO_BOTTOM = "top_to_bottom"
    BOTTOM_TO_TOP = "bottom_to_top"


class Loss(StrEnum):
    """What a stop reason costs: one of the six big losses, or planned time."""

    BREAKDOWN = "breakdown"
    SETUP = "setup"
    SMALL_STOP = "small_stop"
    REDUCED_SPEED = "reduced_speed"
    PLANNED = "planned"


def parse_hhmm(value: str) -> time:
    """Parse a local time of day written `HH:MM` (24 h)."""
    match = _HHMM.match(value)
    if not match:
        raise ValueError(f"expected a time of day as HH:MM (00:00-23:59), got {value!r}")
    return time(int(match.group(1)), int(match.group(2)))


def _minutes(value: str) -> int:
    t = parse_hhmm(value)
    return t.hour * 60 + t.minute


class LineConfig(_Section):
    """Who this line is, and how fast it should run."""

    id: str = Field(description="Line id; also the MQTT topic level.")
    site: str = Field("site", description="Site (plant) id, an MQTT topic level.")
    area: str = Field("area", description="Area id, an MQTT topic level.")
    ideal_cycle_s: float = Field(
        gt=0, le=86400, description="Ideal cycle time: the fastest possible seconds per part."
    )
    timezone: str = Field("UTC", description="IANA time zone; shifts are local times in it.")

    @field_validator("id", "site", "area")
    @classmethod
    def _topic_level(cls, value: str) -> str:
        if not re.match(_TOPIC_LEVEL, value):
            raise ValueError(
                f"{value!r} must be 1-64 letters, digits, '.', '_' or '-' "
                "(it is an MQTT topic level)"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The line's time zone."""
        return ZoneInfo(self.timezone)


class CameraConfig(_Section):
    """Where frames come from."""

    source: str = Field(
        description="V4L2 index or device path, video file, rtsp:// URL, or GStreamer pipeline."
    )
    fps: float = Field(30, gt=0, le=240, description="Frames per second to expect/request.")
    width: int | None = Field(None, gt=0, le=8192, description="Requested frame width, px.")
    height: int | None = Field(None, gt=0, le=8192, description="Requested frame height, px.")
    open_timeout_s: float = Field(10, gt=0, le=300, description="Give up opening after this.")
    read_timeout_s: float = Field(5, gt=0, le=300, description="A read this slow is a stall.")
    freeze_after_s: float = Field(
        10, gt=0, le=3600, description="Identical frames for this long mean a frozen source."
    )
    reopen_backoff_max_s: float = Field(
        30,
        gt=0,
        le=3600,
        description="Longest wait between attempts to reopen the source (a network camera "
        "is retried at least every second: each attempt is a cheap TCP connect first).",
    )
    loop: bool = Field(
        False,
        description="Play a video file source again from its start when it ends (demos, "
        "benchmarks); only for video files.",
    )

    @field_validator("source")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value


class VisionConfig(_Section):
    """Where and which way parts flow in the frame."""

    roi: tuple[int, int, int, int] = Field(
        description="x, y, w, h in frame pixels: the region where parts flow."
    )
    direction: Direction = Field(Direction.LEFT_TO_RIGHT, description="Flow direction.")
    count_at: float = Field(
        0.5, gt=0, lt=1, description="Where along the flow (0..1 of the ROI) a part is counted."
    )
    min_part_area: float = Field(
        0.002, gt=0, lt=1, description="Smallest part, as a fraction of the ROI area."
    )
    motion_threshold: float = Field(
        0.002,
        gt=0,
        lt=1,
        description="Fraction of ROI pixels that must change for the line to count as moving.",
    )
    min_speed: float = Field(
        0.02,
        gt=0,
        le=100,
        description="Slowest belt speed that counts as moving, in ROI lengths per second.",
    )
    part_contrast: float = Field(
        28.0,
        gt=0,
        lt=255,
        description="Grey levels a part must differ from the belt by (largest channel).",
    )
    views_per_part: int = Field(
        5, ge=1, le=15, description="Crops of each part, around its crossing, for inspection."
    )
    analysis_fps: float = Field(
        15,
        gt=0,
        le=240,
        description="Frames per second the vision analyses; the others are only decoded.",
    )

    @field_validator("roi", mode="before")
    @classmethod
    def _four_numbers(cls, value: Any) -> Any:
        if isinstance(value, list | tuple) and len(value) != 4:
            raise ValueError(f"expected 4 numbers (x, y, w, h), got {len(value)}")
        return value

    @field_validator("roi")
    @classmethod
    def _roi_shape(cls, value: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        x, y, w, h = value
        if x < 0 or y < 0:
            raise ValueError("x and y must be 0 or more")
        if w < 8 or h < 8:
            raise ValueError("width and height must be at least 8 pixels")
        return value


class DowntimeConfig(_Section):
    """When no flow becomes a stop, and which stops are small."""

    stop_after_s: float = Field(
        2.0, gt=0, le=3600, description="No flow for this long is a stop (backdated)."
    )
    micro_stop_max_s: float = Field(
        120, ge=0, le=86400, description="Stops up to this long are small stops."
    )
    starved_after_s: float | None = Field(
        None,
        gt=0,
        le=3600,
        description="Moving with no parts this long is a `starved` stop (default: stop_after_s).",
    )
    resume_after_s: float = Field(
        0.2, ge=0, le=60, description="Flow must be back this long to end a stop (backdated)."
    )


class InspectionConfig(_Section):
    """The line's taught inspection model and its verdicts."""

    model_dir: Path | None = Field(
        None, description="Where teach writes the line's model (default var/<line>/inspection)."
    )
    threads: int = Field(1, ge=1, le=16, description="Interpreter threads.")
    false_reject_rate: float = Field(
        0.01, gt=0, lt=0.5, description="Good parts teach may flag, when it sets the threshold."
    )
    images_dir: Path | None = Field(
        None, description="Where defect pictures go (default: beside the store, `defects/`)."
    )
    keep_images: int = Field(1000, ge=0, le=1_000_000, description="Defect pictures to keep.")
    teach_parts: int = Field(
        300, ge=30, le=100_000, description="Good parts teach collects at most (footage or camera)."
    )
    feature_views: int = Field(
        FEATURE_VIEWS,
        ge=0,
        le=10,
        description="Views per part scored by the int8 backbone (0: pixels only).",
    )
    pose: Literal["register", "fixed", "texture"] = Field(
        "register",
        description="How teach lines views up: register (loose parts on a belt), fixed "
        "(a part in a fixture), texture (a surface that looks alike everywhere).",
    )


def _days(default: int, description: str) -> Any:
    """A retention in days (one day to a century)."""
    return Field(default, ge=1, le=36_500, description=description)


class StoreConfig(_Section):
    """The local SQLite store."""

    path: Path | None = Field(None, description="SQLite file (default var/<line>/line.db).")
    commit_interval_s: float = Field(
        5.0,
        ge=0.0,
        le=10.0,
        description="Events are committed (fsynced) together this long after the first "
        "waiting one (0: each at once). A crash or power cut loses at most this much.",
    )
    parts_days: int = _days(
        90, "Days part events are kept; older hours are answered from hourly rollups."
    )
    events_days: int = _days(365, "Days state events (stops, their reasons) are kept.")
    pictures_days: int = _days(30, "Days defect pictures are kept (files and rows).")
    max_mb: int = Field(
        4096,
        ge=16,
        description="The store's size bound (file and WAL): past 90 % of it the oldest raw "
        "hours are pruned before their retention (never the last 24 h); from 80 %, or with "
        "less than `min_free_mb` left on its disk, an alarm is raised first.",
    )
    min_free_mb: int = Field(
        500, ge=0, description="Free space on the store's disk below which an alarm is raised."
    )


class ShiftConfig(_Section):
    """A shift: local start and end (end before start crosses midnight), planned breaks."""

    name: str = Field(min_length=1, max_length=32, description="Shift name.")
    start: str = Field(description="Local start time, HH:MM.")
    end: str = Field(description="Local end time, HH:MM; earlier than start means overnight.")
    breaks: list[tuple[str, str]] = Field(
        default_factory=list, description="Planned breaks, [[start, end], ...] as HH:MM."
    )

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        parse_hhmm(value)
        return value

    @field_validator("breaks")
    @classmethod
    def _break_times(cls, value: list[tuple[str, str]]) -> list[tuple[str, str]]:
        for start, end in value:
            parse_hhmm(start)
            parse_hhmm(end)
        return value

    @model_validator(mode="after")
    def _breaks_inside(self) -> ShiftConfig:
        begin = _minutes(self.start)
        length = (_minutes(self.end) - begin) % 1440 or 1440
        previous_end = 0
        for start, end in self.breaks:
            b0 = (_minutes(start) - begin) % 1440
            b1 = (_minutes(end) - begin) % 1440 or 1440
            if b1 <= b0:
                raise ValueError(f"break {start}-{end} ends before it starts")
            if b1 > length:
                raise ValueError(f"break {start}-{end} is not inside shift {self.start}-{self.end}")
            if b0 < previous_end:
                raise ValueError(f"break {start}-{end} overlaps the break before it")
            previous_end = b1
        return self

    def span_minutes(self) -> tuple[int, int]:
        """Start and end as minutes after local midnight (end may exceed 1440)."""
        begin = _minutes(self.start)
        length = (_minutes(self.end) - begin) % 1440 or 1440
        return begin, begin + length


class ReasonConfig(_Section):
    """A stop reason code a supervisor can assign."""

    code: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,47}$", description="Reason code.")
    loss: Loss = Field(description="The loss it books: breakdown|setup|small_stop|...|planned.")
    label: str | None = Field(None, max_length=80, description="Human text for the TUI.")


class MqttConfig(_Section):
    """The plant broker the feed goes to."""

    enabled: bool = Field(True, description="Publish at all (events are queued either way).")
    host: str = Field("localhost", min_length=1, description="Broker host name or address.")
    port: int = Field(1883, ge=1, le=65535, description="Broker port.")
    protocol: Literal["3.1.1", "5"] = Field("3.1.1", description="MQTT protocol version.")
    client_id: str | None = Field(None, description="Client id (default oee-<site>-<area>-<line>).")
    keepalive_s: int = Field(30, ge=5, le=3600, description="MQTT keep-alive.")
    tls: bool = Field(False, description="Use TLS.")
    ca_file: Path | None = Field(None, description="CA certificate file for TLS.")
    cert_file: Path | None = Field(None, description="Client certificate for TLS.")
    key_file: Path | None = Field(None, description="Client key for TLS.")
    sparkplug: bool = Field(False, description="Also run a Sparkplug B edge node.")
    sparkplug_host_id: str | None = Field(
        None,
        min_length=1,
        pattern=r"^[^/+#]+$",
        description="Sparkplug primary host application id (e.g. the SCADA's): the node "
        "births only while `spBv1.0/STATE/<id>` says it is online.",
    )
    oee_interval_s: float = Field(5, gt=0, le=3600, description="Seconds between `oee` updates.")
    outbox_max_rows: int | None = Field(
        None,
        ge=1000,
        description="Optional outbox bound; past it the oldest are dropped, counted "
        "(none: only a nearly full disk drops any).",
    )

    @model_validator(mode="after")
    def _tls_files(self) -> MqttConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        return self

    @property
    def username(self) -> str | None:
        """Broker user name, from the environment."""
        return os.environ.get(MQTT_USERNAME_ENV) or None

    @property
    def password(self) -> str | None:
        """Broker password, from the environment."""
        return os.environ.get(MQTT_PASSWORD_ENV) or None


class Config(_Section):
    """A whole line configuration file."""

    line: LineConfig
    camera: CameraConfig | None = None
    vision: VisionConfig | None = None
    downtime: DowntimeConfig = Field(default_factory=DowntimeConfig)  # type: ignore[arg-type]
    inspection: InspectionConfig = Field(default_factory=InspectionConfig)  # type: ignore[arg-type]
    store: StoreConfig = Field(default_factory=StoreConfig)  # type: ignore[arg-type]
    shift: list[ShiftConfig] = Field(default_factory=list, description="Shifts of a day.")
    reason: list[ReasonConfig] = Field(default_factory=list, description="Stop reason codes.")
    mqtt: MqttConfig = Field(default_factory=MqttConfig)  # type: ignore[arg-type]
    #: Folder relative paths resolve against (not a key of the file).
    base_dir: Path = Field(default=Path("."), exclude=True)

    @model_validator(mode="after")
    def _cross_checks(self) -> Config:
        names = [s.name for s in self.shift]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"shift name {name!r} is used twice")
        spans = [(s.name, *s.span_minutes()) for s in self.shift]
        for i, (n1, a1, b1) in enumerate(spans):
            for n2, a2, b2 in spans[i + 1 :]:
                # compare on a circular day: shift intervals repeat every 1440 min
                for shift in (-1440, 0, 1440):
                    if a1 < b2 + shift and a2 + shift < b1:
                        raise ValueError(f"shifts {n1!r} and {n2!r} overlap")
        codes = [r.code for r in self.reason]
        for code in codes:
            if codes.count(code) > 1:
                raise ValueError(f"reason code {code!r} is defined twice")
        if self.vision and self.camera and self.camera.width and self.camera.height:
            x, y, w, h = self.vision.roi
            if x + w > self.camera.width or y + h > self.camera.height:
                raise ValueError(
                    f"vision.roi {list(self.vision.roi)} reaches outside the "
                    f"{self.camera.width}x{self.camera.height} frame"
                )
        return self

    def resolve(self, path: Path) -> Path:
        """A path from the file, resolved against the config file's folder."""
        return path if path.is_absolute() else (self.base_dir / path)

    @property
    def store_path(self) -> Path:
        """The SQLite store file."""
        return self.resolve(self.store.path or Path("var") / self.line.id / "line.db")

    @property
    def model_dir(self) -> Path:
        """The line's inspection model folder."""
        default = Path("var") / self.line.id / "inspection"
        return self.resolve(self.inspection.model_dir or default)

    @property
    def images_dir(self) -> Path:
        """Where defect pictures are kept."""
        if self.inspection.images_dir:
            return self.resolve(self.inspection.images_dir)
        return self.store_path.parent / "defects"

    def reason_loss(self, code: str | None) -> Loss | None:
        """The loss a reason code books, or None when it is unknown or missing."""
        for reason in self.reason:
            if reason.code == code:
                return reason.loss
        return None

    def require(self, *sections: str) -> None:
        """Raise a ConfigError unless the optional sections a command needs are present."""
        missing = [s for s in sections if getattr(self, s) is None]
        if missing:
            raise ConfigError([f"[{s}]: this command needs the section" for s in missing])

    @classmethod
    def of(cls: type[_Narrowed], config: Config) -> _Narrowed:
        """`config` as this type: the sections it makes required must be there.

        A narrowed type (`PipelineConfig`, `RunConfig`) declares the optional sections a
        command needs as required; its values are the already validated ones.

        Raises:
            ConfigError: one line naming every section the command needs and lacks.
        """
        if isinstance(config, cls):
            return config
        needed = [name for name in _OPTIONAL_SECTIONS if cls.model_fields[name].is_required()]
        config.require(*needed)
        values = {name: getattr(config, name) for name in Config.model_fields}
        return cls.model_construct(**values)


#: The sections a line file may leave out and a command may need.
_OPTIONAL_SECTIONS = ("camera", "vision")
_Narrowed = TypeVar("_Narrowed", bound=Config)


class PipelineConfig(Config):
    """A line configuration the vision pipeline can count with: `[vision]` is there."""

    vision: VisionConfig


class RunConfig(PipelineConfig):
    """What `run`, `replay`, `teach` and the demo need: `[camera]` and `[vision]`."""

    camera: CameraConfig


def _format_error(err: dict[str, Any]) -> str:
    loc = ".".join(str(p) for p in err["loc"] if p not in ("function-after",))
    msg = err["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    elif err["type"] == "missing":
        msg = "required key is missing"
    return f"{loc or '(file)'}: {msg}"


def parse_config(data: dict[str, Any], base_dir: Path = Path(".")) -> Config:
    """Validate a parsed TOML document.

    Raises:
        ConfigError: listing every bad key with its path and why.
    """
    if "base_dir" in data:
        raise ConfigError(["base_dir: unknown key"])
    try:
        return Config.model_validate({**data, "base_dir": base_dir})
    except ValidationError as exc:
        raise ConfigError([_format_error(dict(e)) for e in exc.errors()]) from None


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a line configuration file.

    Raises:
        ConfigError: the file is missing, not TOML, or has bad keys.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{file}: no such file"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{file}: cannot read it ({exc})"]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{file}: not valid TOML ({exc})"]) from None
    return parse_config(data, base_dir=file.resolve().parent)
