/* The report's hot spot maps (transforms/outputs/report/webmap.py writes the data this reads).
   One Leaflet map per agency and dataset; the agency's own layers are the basemap (no tiles); every point
   is a circle marker, so the page asks for no image. */
(function () {
  "use strict";
  var src = document.getElementById("sara-map-data");
  if (!src || !window.L) { return; }
  var D = JSON.parse(src.textContent);
  var PANES = [["sara-base", 350], ["sara-kde", 355], ["sara-cells", 360], ["sara-context", 380],
               ["sara-problems", 390], ["sara-points", 395]];
  var AREA_STYLE = {district: {color: "#111", weight: 2.4}, beat: {color: "#444", weight: 1.1, dashArray: "5 3"}};
  var PROBLEM_STYLE = {target: {color: "#d62728", weight: 2.5}, buffer: {color: "#ff7f0e", weight: 1.6,
                       dashArray: "6 4"}, control: {color: "#7f7f7f", weight: 1.3, dashArray: "2 4"}};
  var KDE_STOPS = [[255, 255, 204], [254, 217, 118], [253, 141, 60], [227, 26, 28], [128, 0, 38]];
  var WHAT = {calls: "calls", incidents: "incidents"};
  var ORIGINS = ["community", "officer", "unknown"];

  function esc(s) {
    return String(s === null || s === undefined ? "" : s).replace(/[&<>"']/g, function (ch) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;"}[ch];
    });
  }
  function num(v) { return v === null || v === undefined ? "0" : Number(v).toLocaleString("en-US"); }
  function kdeColour(t) {
    t = Math.max(0, Math.min(1, t)) * (KDE_STOPS.length - 1);
    var i = Math.min(KDE_STOPS.length - 2, Math.floor(t)), f = t - i, a = KDE_STOPS[i], b = KDE_STOPS[i + 1];
    return "rgb(" + [0, 1, 2].map(function (k) { return Math.round(a[k] + (b[k] - a[k]) * f); }).join(",") + ")";
  }
  function tag(layer, attrs) {
    layer.on("add", function () {
      var el = layer.getElement && layer.getElement();
      if (!el) { return; }
      Object.keys(attrs).forEach(function (k) { el.setAttribute(k, attrs[k]); });
    });
  }
  function windowTable(w, label, windows) {
    w = w || {};
    var keys = (windows && windows.length ? windows.map(String) : Object.keys(w)).sort(function (a, b) {
      return a - b; });
    if (!keys.length) { return ""; }
    return "<table><tr><th class=\"t\">" + esc(label) + "</th>" + keys.map(function (k) {
      return "<th>" + esc(k) + " d</th>"; }).join("") + "</tr><tr><td class=\"t\">events</td>" +
      keys.map(function (k) { return "<td>" + num(w[k] || 0) + "</td>"; }).join("") + "</tr></table>";
  }

  function cellPopup(c, m) {
    var what = WHAT[m.dataset] || "events";
    var h = "<div class=\"sara-popup\"><b>" + esc(c.label || (c.a && c.a.length ? c.a[0][0] : "Cell " + c.id)) +
      "</b><br>Gi* z " + (c.z === undefined ? "–" : esc(c.z)) + " · " + esc(D.bins[String(c.b)]) +
      "<br>" + num(c.n) + " " + (c.n === 1 ? what.replace(/s$/, "") : what) + " in the last " + m.window_days +
      " days (" + esc(m.origin) + " origin)";
    if (c.n === 0 && c.b > 0) { h += "<br><i>No event of its own: hot through its neighbours.</i>"; }
    h += windowTable(c.w, m.origin + " events by window", m.windows);
    var o = c.o || {}, ok = m.dataset === "calls" ? ORIGINS : Object.keys(o).sort();
    var total = ok.reduce(function (t, k) { return t + (o[k] || 0); }, 0);
    if (total > 0) {
      h += "Origin split, all " + what + ", last " + m.window_days + " days: " + ok.map(function (k) {
        return esc(k) + " " + num(o[k]) + " (" + Math.round(100 * (o[k] || 0) / total) + "%)"; }).join(" · ");
    }
    if (c.a && c.a.length) {
      h += "<br>Top addresses:<ol style=\"margin:0;padding-left:18px\">" + c.a.map(function (a) {
        return "<li>" + esc(a[0]) + " (" + num(a[1]) + ")</li>"; }).join("") + "</ol>";
    }
    if (c.k !== undefined) { h += "KDE " + esc(c.k) + " per km²<br>"; }
    return h + "<small>cell " + esc(c.id) + "</small></div>";
  }
  function repeatPopup(p, m) {
    var h = "<div class=\"sara-popup\"><b>" + esc(p.addr || "(no address)") + "</b><br>Rank " + p.rank + ": " +
      num(p.n) + " countable events in the repeat window";
    if (p.n_all !== undefined) { h += " (" + num(p.n_all) + " in all)"; }
    h += windowTable(p.w, p.origin + " events by window", m.windows);
    if (p.first_seen) { h += "First seen " + esc(p.first_seen) + ", last seen " + esc(p.last_seen) + "<br>"; }
    return h + "</div>";
  }
  function chainPopup(ch) {
    var p = ch.pts;
    return "<div class=\"sara-popup\"><b>Near-repeat chain " + ch.id + "</b> (" + esc(ch.group) + ")<br>" +
      p.length + " events, " + esc(p[0][2]) + " to " + esc(p[p.length - 1][2]) + "</div>";
  }

  // the labels of the hottest places: D.top_labels at most, the hottest first, none overlapping another at
  // this zoom (a label's box is estimated from its length)
  function placeLabels(map, group, tips) {
    group.clearLayers();
    var boxes = [], size = map.getSize();
    tips.forEach(function (t) {
      if (boxes.length >= D.top_labels) { return; }
      var p = map.latLngToContainerPoint(t.at), w = 6.5 * t.label.length + 16, h = 22;
      var box = [p.x, p.y - h / 2, p.x + w + 12, p.y + h / 2];
      if (p.x < 0 || p.y < 0 || p.x > size.x || p.y > size.y) { return; }
      var clash = boxes.some(function (b) {
        return box[0] < b[2] && b[0] < box[2] && box[1] < b[3] && b[1] < box[3]; });
      if (clash) { return; }
      boxes.push(box);
      group.addLayer(L.tooltip({permanent: true, direction: "right", className: "sara-label", offset: [6, 0]})
        .setLatLng(t.at).setContent(esc(t.label)));
    });
  }

  function legend(map, ag, m) {
    var ctl = L.control({position: "bottomright"});
    ctl.onAdd = function () {
      var div = L.DomUtil.create("div", "sara-legend");
      var rows = [3, 2, 1, 0, -1, -2, -3].map(function (b) {
        return "<i style=\"background:" + D.palette[String(b)] + "\"></i>" + esc(D.bins[String(b)]);
      });
      rows.unshift("<b>Gi*, " + esc(m.window_days) + " days</b>");
      if (m.kde_max) {
        rows.push("<i style=\"background:linear-gradient(90deg," + [0, 0.5, 1].map(kdeColour).join(",") +
                  ")\"></i>KDE, low to high (max " + num(Math.round(m.kde_max)) + " per km²)");
      }
      if (m.repeats.length) { rows.push("<i style=\"background:#8073ac;border-radius:6px\"></i>repeat location"); }
      if (m.chains.length) { rows.push("<i style=\"background:#1b7837;height:3px\"></i>near-repeat chain"); }
      if (ag.problems.length) {
        rows.push("<i style=\"border:2px solid #d62728;background:none\"></i>problem target, buffer, control");
      }
      div.innerHTML = rows.join("<br>");
      return div;
    };
    return ctl.addTo(map);
  }

  function draw(ag, m) {
    var div = document.getElementById(m.div);
    if (!div) { return null; }
    var map = L.map(div, {minZoom: 3, maxZoom: 19, zoomSnap: 0.25, attributionControl: true});
    map.attributionControl.setPrefix("Leaflet");
    PANES.forEach(function (p) { map.createPane(p[0]).style.zIndex = p[1]; });
    var overlays = {}, cellsById = {};
    // the view first: paths added to a map without one cannot be clipped
    var extent = L.latLngBounds([]);
    (ag.boundary ? [ag.boundary] : m.cells.map(function (c) { return c.g; })).forEach(function (g) {
      extent.extend(L.polygon(g).getBounds());
    });
    if (extent.isValid()) { map.fitBounds(extent, {padding: [8, 8]}); } else { map.setView([0, 0], 2); }
    if (ag.boundary) {
      overlays["Agency boundary"] = L.polygon(ag.boundary, {pane: "sara-base", color: "#222", weight: 1.6,
        fillColor: D.palette["0"], fillOpacity: 1, interactive: false, className: "sara-boundary"}).addTo(map);
    }
    var kde = L.layerGroup(), hot = L.featureGroup(), labels = L.layerGroup(), tips = [];
    m.cells.forEach(function (c) {
      // a cell that is not significant is drawn clear (the boundary's fill shows through) but still answers a click
      var poly = L.polygon(c.g, {pane: "sara-cells", fillColor: D.palette[String(c.b)],
                                 fillOpacity: c.b === 0 ? 0 : 0.9, stroke: c.b !== 0, color: "#fff",
                                 weight: 0.4, className: "sara-cell"});
      poly.bindPopup(function () { return cellPopup(c, m); }, {maxWidth: 340});
      var attrs = {"data-cell": c.id, "data-bin": String(c.b)};
      if (c.r) { attrs["data-rank"] = String(c.r); }
      if (c.tip) { tips.push({at: poly.getBounds().getCenter(), label: c.label, z: c.z, id: c.id}); }
      tag(poly, attrs);
      hot.addLayer(poly);
      cellsById[c.id] = poly;
      if (c.k !== undefined && m.kde_max && c.k >= 0.05 * m.kde_max) {
        kde.addLayer(L.polygon(c.g, {pane: "sara-kde", stroke: false, fillColor: kdeColour(c.k / m.kde_max),
                                     fillOpacity: 0.8, interactive: false, className: "sara-kde"}));
      }
    });
    tips.sort(function (a, b) { return b.z - a.z || (a.id < b.id ? -1 : 1); });   // the hottest first
    hot.addLayer(labels);
    overlays["Hot spots (Gi*)"] = hot.addTo(map);
    placeLabels(map, labels, tips);
    map.on("zoomend", function () { placeLabels(map, labels, tips); });
    if (kde.getLayers().length) { overlays["KDE (density)"] = kde; }
    ag.areas.forEach(function (a) {
      var g = L.layerGroup(), st = AREA_STYLE[a.type] || {color: "#6a3d9a", weight: 1};
      a.features.forEach(function (f) {
        var poly = L.polygon(f.g, L.extend({pane: "sara-context", fill: false, interactive: false,
                                            className: "sara-" + a.type}, st));
        g.addLayer(poly);
        if (a.labels) {
          g.addLayer(L.marker(f.at || poly.getBounds().getCenter(), {pane: "sara-context", interactive: false,
            keyboard: false, icon: L.divIcon({className: "sara-area-label", html: esc(f.name || f.id),
                                              iconSize: [60, 14], iconAnchor: [30, 7]})}));
        }
      });
      var name = a.type.charAt(0).toUpperCase() + a.type.slice(1) + "s";
      overlays[name] = g.addTo(map);
    });
    if (ag.streets) {
      overlays["Streets"] = L.polyline(ag.streets, {pane: "sara-context", color: "#b4b4b4", weight: 0.7,
                                                    interactive: false, className: "sara-street"}).addTo(map);
    }
    if (ag.problems.length) {
      var pg = L.layerGroup();
      ag.problems.forEach(function (p) {
        var poly = L.polygon(p.g, L.extend({pane: "sara-problems", fill: false, className: "sara-problem"},
                                           PROBLEM_STYLE[p.area] || {color: "#d62728", weight: 2}));
        poly.bindPopup("<div class=\"sara-popup\"><b>" + esc(p.problem) + "</b><br>" + esc(p.area) + " area, " +
                       esc(p.km2) + " km²</div>");
        pg.addLayer(poly);
      });
      overlays["Problems' areas"] = pg.addTo(map);
    }
    if (m.chains.length) {
      var cg = L.layerGroup();
      m.chains.forEach(function (ch) {
        var line = L.polyline(ch.pts.map(function (p) { return [p[0], p[1]]; }),
                              {pane: "sara-points", color: "#1b7837", weight: 2, className: "sara-chain"});
        line.bindPopup(chainPopup(ch));
        cg.addLayer(line);
        ch.pts.forEach(function (p, i) {
          cg.addLayer(L.circleMarker([p[0], p[1]], {pane: "sara-points", radius: 4, color: "#1b7837", weight: 1.5,
            fillColor: i === 0 ? "#1b7837" : "#fff", fillOpacity: 1, className: "sara-chain"})
            .bindPopup(chainPopup(ch) + "<div class=\"sara-popup\">" + esc(p[2]) + ", " + esc(p[3]) + "</div>"));
        });
      });
      overlays["Near-repeat chains"] = cg;
    }
    if (m.repeats.length) {
      var rg = L.layerGroup();
      m.repeats.forEach(function (p) {
        rg.addLayer(L.circleMarker(p.ll, {pane: "sara-points", radius: Math.min(10, 3 + 0.7 * Math.sqrt(p.n)),
          color: "#542788", weight: 1, fillColor: "#8073ac", fillOpacity: 0.65, className: "sara-repeat"})
          .bindPopup(repeatPopup(p, m), {maxWidth: 340}));
      });
      overlays["Repeat locations"] = rg.addTo(map);
    }
    L.control.layers(null, overlays, {collapsed: false}).addTo(map);
    L.control.scale({position: "bottomleft", maxWidth: 160}).addTo(map);
    legend(map, ag, m);
    return {map: map, cells: cellsById};
  }

  var maps = {};
  D.agencies.forEach(function (ag) {
    ag.maps.forEach(function (m) {
      var made = draw(ag, m);
      if (made) { maps[m.div] = made; }
    });
  });
  Array.prototype.forEach.call(document.querySelectorAll("#map ol.sara-top"), function (ol) {
    var made = maps[ol.getAttribute("data-map")];
    if (!made) { return; }
    ol.addEventListener("click", function (ev) {
      var id = ev.target && ev.target.getAttribute && ev.target.getAttribute("data-cell");
      var cell = id && made.cells[id];
      if (!cell) { return; }
      made.map.getContainer().scrollIntoView({block: "center"});
      made.map.fitBounds(cell.getBounds(), {maxZoom: 16, padding: [60, 60]});
    });
  });
})();
