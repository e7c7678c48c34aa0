"""The one Gi* bin palette: the GIS export's QGIS style and the report's hot spot map both colour by it.

Bins run from -3 (cold spot, 99 % confidence) to 3 (hot spot, 99 % confidence); 0 is not significant. The
colours are ColorBrewer's 7-class RdBu scheme (Brewer, Harrower and the Pennsylvania State University,
colorbrewer2.org), blue for cold and red for hot, which is also the scheme ArcGIS uses for Gi* results.
"""

from __future__ import annotations

GI_BIN_COLOURS = {-3: "#2166ac", -2: "#67a9cf", -1: "#d1e5f0", 0: "#f7f7f7", 1: "#fddbc7", 2: "#ef8a62",
                  3: "#b2182b"}
# long labels for a GIS legend, short ones for the report's map legend
GI_BIN_LABELS = {-3: "Cold spot, 99 % confidence", -2: "Cold spot, 95 %", -1: "Cold spot, 90 %",
                 0: "Not significant", 1: "Hot spot, 90 %", 2: "Hot spot, 95 %", 3: "Hot spot, 99 % confidence"}
GI_BIN_SHORT_LABELS = {-3: "cold 99%", -2: "cold 95%", -1: "cold 90%", 0: "not significant", 1: "hot 90%",
                       2: "hot 95%", 3: "hot 99%"}
