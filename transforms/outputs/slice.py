"""The slice of the mart cube a reader sees first: one window, one category group, one origin.

The marts hold every window x category group x origin. A map or a GIS layer shows one of them at a time; the
report and `sara export` start from the same default so the two agree: the 28-day window (or the configured
window nearest to 28 days), every category (`all`) and the configured `[analysis] default_origin`.
"""

from __future__ import annotations

from dataclasses import dataclass

from transforms.config import Settings

DEFAULT_WINDOW_DAYS = 28


@dataclass(frozen=True)
class Slice:
    window_days: int
    category_group: str
    origin: str

    def words(self, dataset: str | None = None) -> str:
        """The slice in words, e.g. 'calls for service, all categories, community-generated, last 28 days'."""
        what = {"calls": "calls for service", "incidents": "recorded crimes"}.get(dataset or "", "events")
        group = "all categories" if self.category_group == "all" else self.category_group
        origin = {"all": "every origin", "community": "community-generated", "officer": "officer-initiated",
                  "unknown": "origin unknown"}[self.origin]
        return f"{what}, {group}, {origin}, last {self.window_days} days"


def nearest_window(windows: list[int], target: int = DEFAULT_WINDOW_DAYS) -> int:
    """The window of `windows` nearest to `target` days (the shorter one on a tie)."""
    return min(sorted(windows), key=lambda w: abs(w - target))


def default_slice(settings: Settings) -> Slice:
    """The report's and the export's default: 28 days (or the nearest configured window), all, default_origin."""
    return Slice(nearest_window(settings.sara.windows_days), "all", settings.sara.analysis.default_origin)
