"""Known export layouts, by name."""

from __future__ import annotations

from retainly.errors import InputError, NotFoundError
from retainly.ingest.presets.base import Options, Preset
from retainly.ingest.presets import kinds
from retainly.ingest.presets.cdnow import CDNOW
from retainly.ingest.presets.native import Native
from retainly.ingest.presets.online_retail_ii import OnlineRetailII
from retainly.ingest.presets.shopify import Shopify
from retainly.ingest.presets.woocommerce import WooCommerce
from retainly.ingest.readers import RawTable
from retainly.ingest.values import find_column

PRESETS: dict[str, Preset] = {p.name: p for p in (OnlineRetailII(), CDNOW(), Shopify(), WooCommerce(), Native())}


def register(preset: Preset) -> None:
    PRESETS[preset.name] = preset


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise NotFoundError(f'unknown preset "{name}"; choose one of: {", ".join(sorted(PRESETS))}') from None


def detect_preset(kind: str, raw: RawTable) -> Preset:
    """The preset whose signature columns the file has; the native layout otherwise."""
    header = list(raw.frame.columns)
    for preset in PRESETS.values():
        if preset.name == "retainly" or kind not in preset.kinds:
            continue
        if all(find_column(header, column) for column in preset.signature):
            return preset
    return PRESETS["retainly"]


def refuse_other_kind(kind: str, raw: RawTable) -> None:
    """Refuse a file whose header is another kind's (``retainly.ingest.presets.kinds``)."""
    kinds.refuse_other_kind(kind, raw, list(PRESETS.values()))


__all__ = ["Options", "PRESETS", "Preset", "detect_preset", "get_preset", "refuse_other_kind", "register", "InputError"]
