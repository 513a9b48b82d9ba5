"""One colour per framework and per case, declared here once and used by every page (the PNG
figures, the HTML figures, the answer): a reader who learns that PyTorch is red on one report
finds it red on every other.

A case's colour is its framework's hue, lightened or darkened by the variant's place in the
framework's own declaration (impl_*/variants.py through shared.registry), so it depends on the
case alone, never on which other cases a run happens to hold.
"""
from __future__ import annotations

FRAMEWORK_COLORS = {"torch": "#d62728", "tensorflow": "#1f5fb4", "jax": "#2a9d3c", "shared": "#7f7f7f"}
UNKNOWN = "#7f7f7f"
# Runs side by side (a comparison): hues no framework uses, so a run is never read as a framework.
RUN_COLORS = ("#8e44ad", "#e67e22", "#8c564b", "#17becf", "#e377c2", "#bcbd22", "#34495e")


def run_color(i: int) -> str:
    return RUN_COLORS[i % len(RUN_COLORS)]
# how far each successive variant of a framework moves from the framework's colour: towards white
# (positive) or black (negative); the default variant (first declared) is the framework's colour
_SHADES = (0.0, 0.4, -0.35, 0.5, -0.55, 0.2, -0.2, 0.6)


def _mix(hex_color: str, t: float) -> str:
    rgb = [int(hex_color[i:i + 2], 16) for i in (1, 3, 5)]
    target = 255 if t > 0 else 0
    return "#" + "".join(f"{round(c + (target - c) * abs(t)):02x}" for c in rgb)


def framework_color(framework: str) -> str:
    return FRAMEWORK_COLORS.get(framework, UNKNOWN)


def variant_color(framework: str, variant: str) -> str:
    from shared import registry
    base = framework_color(framework)
    try:
        names = list(registry.variants(framework))
        names += [v for v in registry.matrix_variants(framework) if v not in names]  # composed (sparse+fused)
    except Exception:  # noqa: BLE001 - a framework this checkout does not declare: its plain colour
        return base
    i = names.index(variant) if variant in names else 0
    return _mix(base, _SHADES[i % len(_SHADES)])


def case_color(case_id: str) -> str:
    """The colour of a case id such as "torch:fused@cpu" or "tensorflow:graph@cpu~aa" (an A/A copy
    has its original's colour: the figures tell them apart by marker)."""
    fw, _, rest = str(case_id).partition(":")
    variant = rest.split("@", 1)[0] if rest else ""
    if fw not in FRAMEWORK_COLORS:
        return UNKNOWN
    if not variant:
        from shared import registry
        try:
            variant = registry.default_variant(fw)
        except Exception:  # noqa: BLE001
            return framework_color(fw)
    return variant_color(fw, variant)
