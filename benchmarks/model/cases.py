"""The case: the unit a run is made of. A case is (framework, variant, device, configuration
overrides); every timing belongs to one, and every comparison is a case against a baseline case.

Case ids are stable strings, the one spelling used on the command line, in file names (through
`slug`), in the manifest and in reports:

    torch:eager@cpu      tensorflow:xla@gpu      torch:sparse@cpu[batch_size=300]

An A/A calibration copy (`fwbench run --aa`) is the same case run again under another id, its
original's id plus COPY_MARK: torch:eager@cpu~aa. `~` is outside the case grammar (_ID), so no
typed case can name or collide with a copy; it is built only by `aa_copy` and read back only by
`Case.from_dict` (the copy flag is a field of its own, never parsed from the id).

Variants are validated here from the framework-free declarations in impl_*/variants.py, so a
bad name is rejected before any worker process starts.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from shared import workloads
from shared.config import DEVICES, RECIPE, TUTORIAL_RECIPE, ExperimentConfig
from shared.errors import UserError

# The framework-neutral data preparation is timed as a case of its own.
SHARED = "shared"
SHARED_VARIANT = "data"
SHARED_LABEL = "shared data preparation"

# The suffix of an A/A copy's id (see the module docstring).
COPY_MARK = "~aa"
COPY_LABEL = "(A/A copy)"

# Overrides a case may carry: the recipe and the data, never the device (that is the case's own)
# nor the workload (a run's, shared by its cases); and any setting of the run's workload's network
# (Workload.Settings: hidden=50x50 for the MLP), checked against that workload in Case.config.
_FIELDS = {f.name: f for f in dataclasses.fields(ExperimentConfig)}
OVERRIDABLE = tuple(n for n in _FIELDS if n not in ("device", "workload", "model"))


@dataclass(frozen=True, order=True)
class Case:
    framework: str
    variant: str
    device: str
    overrides: tuple[tuple[str, object], ...] = ()
    copy: bool = False  # an A/A calibration copy: the same work, its own id, compared with its original

    @property
    def id(self) -> str:
        return (f"{self.framework}:{self.variant}@{self.device}{format_overrides(self.overrides)}"
                f"{COPY_MARK if self.copy else ''}")

    @property
    def slug(self) -> str:
        """The id as a file name."""
        return re.sub(r"[^A-Za-z0-9._=-]+", "_", self.id.replace(":", "-").replace("@", "-")).strip("_")

    @property
    def is_shared(self) -> bool:
        return self.framework == SHARED

    def spec(self):
        """The Variant declaration (label, about, input representation)."""
        if self.is_shared:
            from shared.variant import Variant
            return Variant(SHARED_VARIANT, SHARED_LABEL, "archive parsing and counting, framework-neutral")
        from shared import registry
        return registry.variant(self.framework, self.variant)

    @property
    def label(self) -> str:
        extra = " ".join(t for t in (format_overrides(self.overrides), COPY_LABEL if self.copy else "") if t)
        return f"{self.spec().label}{' ' + extra if extra else ''}"

    def config(self, base: ExperimentConfig) -> ExperimentConfig:
        """The run's configuration with this case's device and overrides (a UserError when an
        override is not a setting of the run's workload)."""
        fields = {k: v for k, v in self.overrides if k in OVERRIDABLE}
        model = {k: v for k, v in self.overrides if k not in OVERRIDABLE}
        return base.replace(device=self.device, **fields, **({"model": model} if model else {}))

    @classmethod
    def from_dict(cls, d: dict) -> "Case":
        """The case a worker's plan carries (to_dict's output), rebuilt without parsing its id."""
        over = tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in (d.get("overrides") or {}).items())
        case = cls(d["framework"], d["variant"], d["device"], over, bool(d.get("copy", False)))
        if case.id != d["id"]:
            raise ValueError(f"a case record names {d['id']!r} but its fields make {case.id!r}")
        return case

    def to_dict(self) -> dict:
        spec = self.spec()
        return {"id": self.id, "framework": self.framework, "variant": self.variant, "device": self.device,
                "overrides": {k: _jsonable(v) for k, v in self.overrides}, "label": self.label,
                "about": spec.about, "input": spec.input, "settings": spec.settings,
                **({"copy": True} if self.copy else {})}  # absent on ordinary cases: their records keep their shape


def aa_copy(case: Case) -> Case:
    """The A/A calibration copy of `case`: identical work under a distinct id."""
    return dataclasses.replace(case, copy=True)


def aa_cases(text: str, devices: list[str]) -> tuple[list[Case], dict[str, str]]:
    """--aa torch:eager,tensorflow -> [original, copy, original, copy, ...] (each copy right after
    its original, so the interleaved schedule alternates them) and {copy id: original id}.
    An item without a device is taken on every --devices device, like --frameworks."""
    items = split_items(text)
    if not items:
        raise UserError("--aa is empty: name at least one case, e.g. --aa torch:eager")
    cases: list[Case] = []
    for item in items:
        if "@" in item:
            case = parse_case(item)
            if case.device not in devices:
                raise UserError(f"--aa case {item} is on {case.device}, which --devices does not include: "
                                f"add it to --devices or drop @{case.device}")
            found = [case]
        else:
            found = [parse_case(item, dev) for dev in devices]
        for case in found:
            if case in cases:
                raise UserError(f"case {case.id} is named twice in --aa: name each case once")
            cases.append(case)
    out = [c for case in cases for c in (case, aa_copy(case))]
    return out, {aa_copy(c).id: c.id for c in cases}


def _jsonable(v):
    return list(v) if isinstance(v, tuple) else v


def format_overrides(overrides) -> str:
    if not overrides:
        return ""
    def fmt(v):
        return "x".join(map(str, v)) if isinstance(v, (tuple, list)) else str(v)
    return "[" + ",".join(f"{k}={fmt(v)}" for k, v in overrides) + "]"


def parse_value(name: str, text: str):
    """An override's value, typed like the ExperimentConfig field it sets, or like the network
    setting of that name (the first workload declaring it: Case.config checks it against the
    run's own)."""
    if name not in OVERRIDABLE:
        for w in workloads.names():
            settings = {f.name for f in dataclasses.fields(workloads.get(w).Settings)}
            if name in settings:
                return workloads.get(w).parse_setting(name, text)
        raise UserError(f"unknown setting {name!r} in a case: choose from {', '.join(OVERRIDABLE)}, "
                        f"or a setting of the workload's network (fwbench workloads lists them)")
    default = _FIELDS[name].default
    if default is RECIPE:
        default = TUTORIAL_RECIPE[name]
    try:
        if name == "categories":
            return None if text == "all" else tuple(text.split("+"))
        if isinstance(default, bool):
            if text.lower() not in ("true", "false"):
                raise ValueError(text)
            return text.lower() == "true"
        if isinstance(default, float):
            return float(text)
        if isinstance(default, int) or name in ("threads", "vocab_size"):
            return int(text)
        return text
    except ValueError:
        raise UserError(f"setting {name}={text!r} in a case is not a valid value") from None


def parse_overrides(text: str) -> tuple[tuple[str, object], ...]:
    out = []
    for item in [t for t in text.split(",") if t]:
        name, sep, value = item.partition("=")
        if not sep:
            raise UserError(f"case setting {item!r} is not NAME=VALUE: e.g. torch:eager@cpu[batch_size=300]")
        if name.strip() in {n for n, _ in out}:  # keeping one of the two silently would hide the other
            raise UserError(f"case setting {name.strip()!r} is given twice in [{text}]: give each setting once")
        out.append((name.strip(), parse_value(name.strip(), value.strip())))
    return tuple(sorted(out))


_ID = re.compile(r"^(?P<fw>[A-Za-z_]+)(?::(?P<variant>[A-Za-z0-9_+]+))?(?:@(?P<device>[a-z]+))?(?:\[(?P<over>[^\]]*)\])?$")


def parse_case(text: str, device: str | None = None) -> Case:
    """FRAMEWORK[:VARIANT][@DEVICE][[NAME=VALUE,...]]; the variant defaults to the framework's
    default, the device to `device` (a UserError when neither gives one)."""
    from shared import registry
    m = _ID.match(text.strip())
    if not m:
        raise UserError(f"cannot read case {text!r}: write FRAMEWORK[:VARIANT][@DEVICE], e.g. torch:eager@cpu")
    fw = registry.canonical(m["fw"])
    spec = registry.variant(fw, m["variant"])  # an unknown variant lists the valid ones
    dev = m["device"] or device
    if dev is None:
        raise UserError(f"case {text!r} names no device: write {text}@cpu or {text}@gpu")
    if dev not in DEVICES:
        raise UserError(f"unknown device {dev!r} in case {text!r}: use one of {', '.join(DEVICES)}")
    return Case(fw, spec.name, dev, parse_overrides(m["over"] or ""))


def split_items(text: str) -> list[str]:
    """'torch[batch_size=300,hidden=50x50],tensorflow' -> its items: commas inside a case's
    brackets belong to its overrides, not to the list."""
    items, depth, cur = [], 0, []
    for ch in text:
        depth += (ch == "[") - (ch == "]")
        if ch == "," and depth == 0:
            items.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    items.append("".join(cur))
    return [t.strip() for t in items if t.strip()]


def expand(frameworks: str, devices: list[str], overrides=()) -> list[Case]:
    """--frameworks torch:eager,torch:fused,tensorflow × --devices cpu,gpu -> cases, device-major.

    An item's own overrides (torch[batch_size=300]) are kept and merged with `overrides` (the
    settings given for every case); for a setting in both, the item's value wins, so the case id
    says what the case ran."""
    items = split_items(frameworks)
    if not items:
        raise UserError("--frameworks is empty: name at least one of torch, tensorflow (optionally :VARIANT)")
    cases = []
    for dev in devices:
        for item in items:
            if "@" in item:
                raise UserError(f"--frameworks item {item!r} names a device: use --devices for that")
            case = parse_case(item, dev)
            merged = {**dict(overrides), **dict(case.overrides)}
            case = dataclasses.replace(case, overrides=tuple(sorted(merged.items())))
            if case in cases:
                raise UserError(f"case {case.id} is named twice in --frameworks: name each variant once")
            cases.append(case)
    return cases


def all_variants(devices: list[str], workload: str | None = None) -> list[Case]:
    """Every variant of every framework that the workload's network takes (the execution-mode
    matrix: a token workload has no sparse-input variant), default variants first."""
    from shared import registry
    inputs = workloads.get(workload).variant_inputs
    out = []
    for dev in devices:
        for fw in registry.FRAMEWORKS:
            names = [v for v in registry.matrix_variants(fw) if registry.variant(fw, v).input in inputs]
            out += [Case(fw, v, dev) for v in names]
    return out


def baselines(cases: list[Case], requested: str | None) -> dict[str, Case]:
    """device -> the case every other case on that device is compared with.

    Default: PyTorch's default variant on the same device (the first case there if the run has
    no PyTorch). `requested` names one case; without a device it applies on every device."""
    from shared import registry
    out = {}
    run_devices = list(dict.fromkeys(c.device for c in cases))
    named = _ID.match(requested.strip()) if requested else None
    if named and named["device"] and named["device"] not in run_devices:  # else another device's case would stand in
        raise UserError(f"baseline case {requested} is on {named['device']}, which this run does not measure: "
                        f"choose a case on {', '.join(run_devices)}")
    for dev in run_devices:
        here = [c for c in cases if c.device == dev]
        if requested and named and named["device"] and named["device"] != dev:
            base_fw = registry.BASELINE_FRAMEWORK
            out[dev] = next((c for c in here if c.framework == base_fw
                             and c.variant == registry.default_variant(base_fw)), here[0])
        elif requested:
            want = parse_case(requested, dev)
            match = [c for c in here if (c.framework, c.variant) == (want.framework, want.variant)
                     and (not want.overrides or c.overrides == want.overrides)]
            if not match:
                raise UserError(f"baseline case {want.id} is not in this run: choose one of "
                                f"{', '.join(c.id for c in here)}")
            out[dev] = match[0]
        else:
            base_fw = registry.BASELINE_FRAMEWORK
            torch_default = [c for c in here if c.framework == base_fw and c.variant == registry.default_variant(base_fw)]
            out[dev] = (torch_default or here)[0]
    return out


def schedule(cases: list[Case], processes: int) -> list[tuple[int, Case]]:
    """Interleaved rounds: every case once per round, the order rotated by one each round
    (A B C, B C A, C A B, ...), so slow drift over the run is spread over all cases instead of
    always favouring the one that runs first. Returns (process index, case) in execution order."""
    if processes < 1:
        raise UserError(f"--processes must be at least 1, got {processes}")
    order = []
    for k in range(processes):
        shift = k % len(cases) if cases else 0
        order += [(k, c) for c in cases[shift:] + cases[:shift]]
    return order
