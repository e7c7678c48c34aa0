"""The scanning report: one self-contained HTML page for the weekly meeting.

`build_report(con, settings, as_of=None, out_dir=None)` reads the warehouse (read-only queries) and writes
`out_dir/index.html`: inline CSS, inline SVG charts, interactive maps with Leaflet inlined (webmap.py), no
network references, so it opens offline and prints. Each agency's own as_of comes from marts.periods (the page is named after the
latest). Every section is built on its own; a mart that is empty or partial for an agency shows why
(marts.mart_status), and a missing table or column (or any other error) turns that section into a short
note, never a crash. `report_dir(settings, as_of)` is where it goes by default
(data/reports/<profile>/<as_of>/), the one place that path is made.

    page.py      the page shell (header, navigation, CSS from style.css) and the file it writes
    sections.py  the list of sections in page order; trends, hour of week, problems, data quality, closing note
    summary.py   the first screen: what changed, per agency, in sentences
    counts.py    CompStat per district and response times (minutes, agency-wide medians of the calls)
    coverage.py  what the data covers (as_of, periods, outages) and the outage weeks of the trend charts
    places.py    hot spot map, repeat locations, emerging hot spots, near repeats, demand split
    demand.py    demand and workload: top natures by calls and unit-hours, alternative share by hour, occupancy
    webmap.py    the interactive hot spot maps (+ webmap.js, vendor/leaflet/)
    reads.py     read-only queries and what a section requires of the warehouse
    svg.py       the chart kit (line chart, Lorenz curve, hour-of-week grid, share bar)
    markup.py    escaping, number formatting, words, the change rule, HTML tables
"""

from transforms.outputs.report.page import build_report, render_report, report_dir
from transforms.outputs.report.sections import SECTION_IDS

__all__ = ["SECTION_IDS", "build_report", "render_report", "report_dir"]
