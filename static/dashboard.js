/* EOC dashboard: live map and boards fed by Socket.IO frames; actions through the JSON API. */
"use strict";

(() => {
  const C = Common;
  const config = JSON.parse(document.getElementById("config").textContent);
  const headers = { "X-CSRF-Token": config.csrf };
  const api = (method, path, body) => C.api(method, path, body, headers);

  const state = {
    seq: null,
    demonstrations: new Map(), units: new Map(), incidents: new Map(), assignments: new Map(),
    positions: new Map(),
    alerts: new Map(), footage_requests: new Map(),
    spatial: { unit_fences: {}, demonstration_fences: {}, coverage_gaps: [] },
    skewMs: 0,
    framesSeen: 0,
    // Milliseconds spent applying live messages and drawing, the last 2,000 of each
    // (bench/bench_dashboard.py reads them; a ring, so it never grows).
    timing: { apply: [], render: [] },
  };
  window.eoc = state; // for operators' console checks and the end-to-end tests

  // --- map -------------------------------------------------------------------
  const map = L.map("map", { preferCanvas: true, zoomControl: true }).setView([42.3585, -71.0615], 15);
  const renderer = L.canvas({ padding: 0.4 });
  /* Units are drawn as stamps. Without a GPU, Chromium rasterises a canvas's paths while it
     commits the frame, and 2,000 stroked circles made each map draw a task of about 50 ms;
     copying a circle drawn once per style costs a small part of that. Leaflet still does the
     hit-testing and redraws only the region that changed. */
  const stamps = new Map();
  function stampOf(options, radius) {
    const key = [radius, options.color, options.fillColor, options.weight, options.opacity, options.fillOpacity, options.dashArray].join("|");
    let stamp = stamps.get(key);
    if (!stamp) {
      const ratio = window.devicePixelRatio || 1;
      const half = radius + options.weight; // past the ring's outer edge
      const canvas = document.createElement("canvas");
      canvas.width = canvas.height = Math.ceil(2 * half * ratio);
      const ctx = canvas.getContext("2d");
      ctx.scale(ratio, ratio);
      ctx.beginPath();
      ctx.arc(half, half, radius, 0, 2 * Math.PI);
      ctx.globalAlpha = options.fillOpacity;
      ctx.fillStyle = options.fillColor || options.color;
      ctx.fill();
      ctx.globalAlpha = options.opacity;
      ctx.lineWidth = options.weight;
      ctx.strokeStyle = options.color;
      ctx.setLineDash(String(options.dashArray || "").split(/[ ,]+/).filter(Boolean).map(Number));
      ctx.stroke();
      stamp = { canvas, half };
      stamps.set(key, stamp);
    }
    return stamp;
  }
  const StampCanvas = L.Canvas.extend({
    _updateCircle(layer) {
      if (!this._drawing || layer._empty()) return;
      const stamp = stampOf(layer.options, Math.max(Math.round(layer._radius), 1));
      const p = layer._point;
      this._ctx.globalAlpha = 1;
      this._ctx.drawImage(stamp.canvas, Math.round(p.x - stamp.half), Math.round(p.y - stamp.half), 2 * stamp.half, 2 * stamp.half);
    },
  });
  const unitRenderer = new StampCanvas({ padding: 0.4 });
  const base = C.baseLayer(map, config);
  const demoLayer = L.layerGroup().addTo(map);
  const lineLayer = L.layerGroup().addTo(map);
  const incidentLayer = L.layerGroup().addTo(map);
  const unitLayer = L.layerGroup().addTo(map);
  const overlays = {
    Demonstrations: demoLayer, "Assignment lines": lineLayer,
    Incidents: incidentLayer, Units: unitLayer,
  };
  // One control for everything the operator can toggle; imported layers join it as they load.
  const layerControl = L.control.layers(base ? { "Base map": base } : {}, overlays, { collapsed: true }).addTo(map);
  L.control.scale({ imperial: false }).addTo(map);
  const legend = L.control({ position: "bottomleft" });
  legend.onAdd = () => {
    const div = L.DomUtil.create("div", "legend");
    div.innerHTML =
      Object.entries(C.UNIT_COLORS).map(([k, c]) => `<i style="background:${c}"></i>${C.UNIT_LABELS[k]}`).join("<br>") +
      "<br>" + Object.entries(C.TENSION_COLORS).map(([k, c]) => `<i style="background:${c}"></i>${k} ${C.TENSION_LABELS[k]}`).join(" ");
    return div;
  };
  legend.addTo(map);

  const markers = { demonstrations: new Map(), areas: new Map(), units: new Map(), incidents: new Map(), lines: new Map() };
  let showLabels = true;
  // Above this many units on the map, callsigns show on hover only: thousands of permanent
  // labels are DOM elements moved on every frame, which freezes the wall screen.
  const LABEL_LIMIT = 150;
  const labelsPermanent = () => showLabels && markers.units.size <= LABEL_LIMIT;

  /* The demonstration's area of operations: the same radius the server's geofences use. */
  function demoRadius(crowd) {
    return 40 + Math.sqrt(Math.max(crowd || 0, 0)) * 2;
  }

  function isStale(unit) {
    const fix = state.positions.get(unit.id) || unit.position;
    return !fix || C.ageSeconds(fix.at, state.skewMs) > config.stale_after_s;
  }

  function drawDemonstration(demo) {
    let marker = markers.demonstrations.get(demo.id);
    const style = {
      renderer, radius: demoRadius(demo.crowd_estimate), color: C.TENSION_COLORS[demo.tension],
      fillColor: C.TENSION_COLORS[demo.tension], fillOpacity: demo.status === "ended" ? 0.05 : 0.22,
      weight: demo.federal_presence ? 4 : 2, dashArray: demo.federal_presence ? "10 6" : null,
      opacity: demo.status === "ended" ? 0.4 : 1,
    };
    if (!marker) {
      marker = L.circle([demo.lat, demo.lon], style).addTo(demoLayer);
      marker.on("click", () => openDemoPopup(demo.id, marker));
      markers.demonstrations.set(demo.id, marker);
    } else {
      marker.setLatLng([demo.lat, demo.lon]);
      marker.setStyle(style);
      marker.setRadius(style.radius);
    }
    marker.bindTooltip(
      `${C.esc(demo.name)} · ${demo.crowd_estimate.toLocaleString()} · tension ${demo.tension} ${C.TENSION_LABELS[demo.tension]}` +
      (demo.federal_presence ? " · federal agents present" : ""));
    const oldArea = markers.areas.get(demo.id);
    if (oldArea) { demoLayer.removeLayer(oldArea); markers.areas.delete(demo.id); }
    if (demo.area) {
      const rings = demo.area.coordinates.map((ring) => ring.map(([lon, lat]) => [lat, lon]));
      const area = L.polygon(rings, { renderer, color: C.TENSION_COLORS[demo.tension], weight: 1, fillOpacity: 0.08 }).addTo(demoLayer);
      markers.areas.set(demo.id, area);
    }
  }

  function drawUnit(unit) {
    const fix = state.positions.get(unit.id) || unit.position;
    let marker = markers.units.get(unit.id);
    if (!fix) {
      if (marker) { unitLayer.removeLayer(marker); markers.units.delete(unit.id); }
      return;
    }
    const stale = isStale(unit);
    const style = {
      renderer: unitRenderer, radius: 7, color: C.STATUS_RING[unit.status] || "#fff", weight: 3,
      fillColor: C.UNIT_COLORS[unit.kind], fillOpacity: stale ? 0.3 : 0.95, opacity: stale ? 0.45 : 1,
      dashArray: stale ? "2 3" : null,
    };
    // Only what changed is touched: a style or label update costs a redraw or a layout.
    const styleKey = `${unit.status}|${unit.kind}|${stale}`;
    if (!marker) {
      marker = L.circleMarker([fix.lat, fix.lon], style).addTo(unitLayer);
      marker.on("click", () => openUnitPopup(unit.id, marker));
      markers.units.set(unit.id, marker);
    } else {
      const at = marker.getLatLng();
      if (at.lat !== fix.lat || at.lng !== fix.lon) marker.setLatLng([fix.lat, fix.lon]);
      if (marker._styleKey !== styleKey) marker.setStyle(style);
    }
    marker._styleKey = styleKey;
    marker._stale = stale;
    const label = C.esc(`${unit.callsign}${stale ? " (stale)" : ""}`);
    const permanent = labelsPermanent();
    if (marker.getTooltip() && marker.getTooltip().options.permanent !== permanent) marker.unbindTooltip();
    if (!marker.getTooltip()) {
      marker.bindTooltip(label, { permanent, direction: "right", offset: [8, 0], className: "callsign" });
    } else if (marker._label !== label) {
      marker.setTooltipContent(label);
    }
    marker._label = label;
  }

  function drawIncident(incident) {
    let marker = markers.incidents.get(incident.id);
    if (incident.status !== "open") {
      if (marker) { incidentLayer.removeLayer(marker); markers.incidents.delete(incident.id); }
      return;
    }
    const style = { renderer, radius: 9, color: "#ffffff", weight: 2, fillColor: C.incidentColor(incident), fillOpacity: 1 };
    if (!marker) {
      marker = L.circleMarker([incident.lat, incident.lon], style).addTo(incidentLayer);
      marker.on("click", () => openIncidentPopup(incident.id, marker));
      markers.incidents.set(incident.id, marker);
    } else {
      marker.setLatLng([incident.lat, incident.lon]);
      marker.setStyle(style);
    }
    marker.bindTooltip(`${C.KIND_LABELS[incident.kind]}${incident.triage ? " · " + incident.triage : ""} · severity ${incident.severity}`);
  }

  function targetOf(assignment) {
    return assignment.incident_id ? state.incidents.get(assignment.incident_id) : state.demonstrations.get(assignment.demonstration_id);
  }

  function targetLabel(assignment) {
    const target = targetOf(assignment);
    if (!target) return "?";
    return assignment.incident_id ? `${C.KIND_LABELS[target.kind]}${target.triage ? " (" + target.triage + ")" : ""}` : target.name;
  }

  function drawLine(assignment) {
    let line = markers.lines.get(assignment.id);
    const unit = state.units.get(assignment.unit_id);
    const fix = unit && (state.positions.get(unit.id) || unit.position);
    const target = targetOf(assignment);
    const active = !["completed", "declined", "cancelled"].includes(assignment.status);
    if (!active || !fix || !target) {
      if (line) { lineLayer.removeLayer(line); markers.lines.delete(assignment.id); }
      return;
    }
    const points = [[fix.lat, fix.lon], [target.lat, target.lon]];
    const color = assignment.kind === "medical_aid" ? "#ff5252" : assignment.kind === "deescalation" ? "#40c4ff" : "#cfd8dc";
    if (!line) {
      line = L.polyline(points, { renderer, color, weight: 3, dashArray: "8 8", opacity: 0.9 }).addTo(lineLayer);
      markers.lines.set(assignment.id, line);
    } else {
      line.setLatLngs(points);
    }
  }

  function linesOfUnit(unitId) {
    const unit = state.units.get(unitId);
    if (unit && unit.active_assignment_id && state.assignments.has(unit.active_assignment_id)) {
      drawLine(state.assignments.get(unit.active_assignment_id));
    }
  }

  // --- applying what the server sends ------------------------------------------
  const dirty = {
    demonstrations: new Set(), units: new Set(), incidents: new Set(), assignments: new Set(),
    alerts: new Set(), footage_requests: new Set(), panels: false,
  };
  let renderQueued = false;

  function upsert(collection, view) {
    state[collection].set(view.id, view);
    dirty[collection].add(view.id);
    dirty.panels = true;
  }

  function resetFrom(snapshot) {
    for (const collection of ["demonstrations", "units", "incidents", "assignments", "alerts", "footage_requests"]) {
      state[collection].clear();
      for (const view of snapshot[collection] || []) upsert(collection, view);
    }
    if (snapshot.spatial) state.spatial = snapshot.spatial;
    dirty.panels = true; // an empty operation still shows its empty boards
    for (const layer of [demoLayer, incidentLayer, unitLayer, lineLayer]) layer.clearLayers();
    for (const m of Object.values(markers)) m.clear();
    state.positions = new Map(Object.entries(snapshot.positions || {}));
    state.seq = snapshot.seq;
    if (snapshot.server_time) state.skewMs = Date.parse(snapshot.server_time) - Date.now();
    scheduleRender();
  }

  function applyDelta(delta) {
    for (const event of delta.events || []) {
      if (state.seq === null || event.seq > state.seq) feed(event);
    }
    for (const [collection, views] of Object.entries(delta.changes || {})) {
      for (const view of Object.values(views)) upsert(collection, view);
    }
    applyPositions(delta.positions);
    if (delta.spatial) { state.spatial = delta.spatial; dirty.panels = true; }
    state.seq = Math.max(state.seq ?? 0, delta.seq);
    state.framesSeen += 1;
    scheduleRender();
  }

  /* Newest fix wins: with several nodes, fixes of one unit can arrive by two paths. */
  function applyPositions(positions) {
    for (const [unitId, fix] of Object.entries(positions || {})) {
      const known = state.positions.get(unitId);
      if (known && known.at > fix.at) continue;
      state.positions.set(unitId, fix);
      dirty.units.add(unitId);
    }
  }

  function timed(kind, work) {
    const started = performance.now();
    work();
    const ring = state.timing[kind];
    ring.push(performance.now() - started);
    if (ring.length > 2000) ring.shift();
  }

  /* Frames come every 0.1 s. With more than BUSY_MAP_UNITS units on the map the browser's
     style, layout and paint of a draw outlast that on a wall-screen PC, so the map is drawn at
     most every BUSY_DRAW_GAP_MS; frames keep being applied as they come. */
  const BUSY_MAP_UNITS = 1000;
  const BUSY_DRAW_GAP_MS = 250;
  let lastDraw = -Infinity;
  function scheduleRender() {
    if (renderQueued) return;
    renderQueued = true;
    const gap = state.positions.size > BUSY_MAP_UNITS ? BUSY_DRAW_GAP_MS : 0;
    const wait = lastDraw + gap - performance.now();
    if (wait > 0) setTimeout(() => requestAnimationFrame(render), wait);
    else requestAnimationFrame(render);
  }

  /* A task over 50 ms holds the wall screen's input and animation. When thousands of units
     come online at once (or all turn stale), their markers and board rows are built a slice
     of SLICE_MS at a time, the next slice in the next animation frame. */
  const SLICE_MS = 20;
  const BOARD_SLICE_GAP_MS = 100;
  let boardIncomplete = false;

  let lastPanelRender = 0;
  function render() {
    lastDraw = performance.now();
    timed("render", drawDirty);
  }

  function continueNextFrame() {
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(render);
  }

  let lastPermanent = null;
  function drawDirty() {
    renderQueued = false;
    if (labelsPermanent() !== lastPermanent) {
      // Crossing the label limit (or the toggle) changes every unit's label.
      lastPermanent = labelsPermanent();
      for (const id of state.units.keys()) dirty.units.add(id);
    }
    for (const id of dirty.demonstrations) drawDemonstration(state.demonstrations.get(id));
    for (const id of dirty.incidents) drawIncident(state.incidents.get(id));
    const sliceEnd = performance.now() + SLICE_MS;
    let unitsLeft = false;
    for (const id of dirty.units) {
      if (performance.now() > sliceEnd) { unitsLeft = true; break; }
      const unit = state.units.get(id);
      if (unit) { drawUnit(unit); linesOfUnit(id); }
      dirty.units.delete(id);
    }
    for (const id of dirty.assignments) drawLine(state.assignments.get(id));
    for (const id of dirty.demonstrations) for (const a of state.assignments.values()) if (a.demonstration_id === id) drawLine(a);
    for (const id of dirty.incidents) for (const a of state.assignments.values()) if (a.incident_id === id) drawLine(a);
    for (const key of ["demonstrations", "incidents", "assignments"]) dirty[key].clear();
    dirty.alerts?.clear();
    dirty.footage_requests?.clear();
    document.getElementById("seq").textContent = state.seq === null ? "" : `seq ${state.seq}`;
    // Boards are rebuilt at most twice a second (a board still being built, every 100 ms);
    // the map moves every frame.
    const panelGap = boardIncomplete ? BOARD_SLICE_GAP_MS : 500;
    if (dirty.panels && !unitsLeft && performance.now() - lastPanelRender > panelGap) {
      dirty.panels = false;
      lastPanelRender = performance.now();
      renderPanels();
      if (boardIncomplete) { dirty.panels = true; setTimeout(scheduleRender, BOARD_SLICE_GAP_MS); }
    } else if (dirty.panels) {
      setTimeout(scheduleRender, panelGap);
    }
    if (unitsLeft) continueNextFrame();
  }

  // --- boards ------------------------------------------------------------------
  function row(html, onClick) {
    const li = document.createElement("li");
    li.innerHTML = html;
    if (onClick) li.addEventListener("click", (e) => { if (e.target.tagName !== "BUTTON") onClick(); });
    return li;
  }

  function button(li, label, handler, cls = "") {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    if (cls) b.className = cls;
    b.addEventListener("click", (e) => { e.stopPropagation(); handler(); });
    li.appendChild(b);
    return b;
  }

  function fill(id, items, empty) {
    const list = document.getElementById(id);
    list.replaceChildren(...(items.length ? items : [row(C.esc(empty))]));
    if (!items.length) list.firstChild.className = "empty";
  }

  function activeAssignmentsFor(field, id) {
    return [...state.assignments.values()].filter((a) => a[field] === id && !["completed", "declined", "cancelled"].includes(a.status));
  }

  function placesText(enrichment) {
    if (!enrichment) return "";
    const parts = [];
    if (enrichment.neighborhood) parts.push(enrichment.neighborhood);
    for (const p of enrichment.city_property || []) parts.push(`on city property: ${p.name}`);
    for (const p of enrichment.municipal_buildings || []) parts.push(`at ${p.name}`);
    for (const p of enrichment.sensitive_sites || []) parts.push(`${p.name} (${p.category}) ${Math.round(p.distance_m)} m`);
    if ((enrichment.cameras || []).length) parts.push(`${enrichment.cameras.length} camera(s) in range`);
    return parts.join(" · ");
  }

  function renderAlerts() {
    const items = [];
    for (const alert of state.alerts.values()) {
      const incident = state.incidents.get(alert.incident_id);
      if (!incident || incident.status !== "open") continue;
      for (const place of alert.places) {
        const li = row(
          `<span class="grow"><strong>${C.esc(C.KIND_LABELS[alert.kind])} at ${C.esc(place.name)}</strong>` +
          `<span class="rule">${C.esc(place.rule)}</span></span>` +
          `<span class="age" data-since="${alert.raised_at}"></span>`,
          () => map.flyTo([incident.lat, incident.lon], Math.max(map.getZoom(), 17)));
        li.className = "alert-compliance";
        li.dataset.alert = "compliance";
        items.push(li);
      }
    }
    for (const request of state.footage_requests.values()) {
      const incident = state.incidents.get(request.incident_id);
      if (!incident || incident.status !== "open") continue;
      const cams = request.cameras.map((c) => c.name).join(", ") || "no city camera in range";
      const li = row(
        `<span class="grow"><strong>Preserve footage</strong>: ${C.esc(C.KIND_LABELS[incident.kind])}` +
        `<span class="rule">${C.esc(cams)} · ${new Date(request.window_start).toLocaleTimeString()}–${new Date(request.window_end).toLocaleTimeString()}</span></span>`,
        () => map.flyTo([incident.lat, incident.lon], Math.max(map.getZoom(), 17)));
      li.className = "alert-footage";
      li.dataset.alert = "footage";
      items.push(li);
    }
    for (const gap of state.spatial.coverage_gaps || []) {
      const demo = state.demonstrations.get(gap.demonstration_id);
      const need = gap.missing === "medical_team" ? "medical team" : "de-escalation team";
      const li = row(
        `<span class="grow"><strong>Coverage gap</strong>: no ${need} within ${Math.round(gap.within_s / 60)} min of ${C.esc(gap.name)}` +
        `<span class="rule">${gap.nearest_eta_s === null ? "none available" : "nearest ~" + C.fmtAge(gap.nearest_eta_s)}</span></span>`,
        () => { if (demo) map.flyTo([demo.lat, demo.lon], Math.max(map.getZoom(), 16)); });
      li.className = "alert-coverage";
      li.dataset.alert = "coverage";
      if (demo) button(li, "Assign", () => openAssign({ demonstrationId: demo.id }));
      items.push(li);
    }
    fill("alerts", items, "No alerts");
    document.getElementById("alert-count").textContent = items.length;
  }

  /* The units board is the long one (thousands of rows): a row is rebuilt only when what it
     shows changed, and the list is reordered only when the order did. Rebuilding every row
     at once was a task of about half a second on a 2,000-unit wall screen. */
  const unitRows = new Map(); // unit id -> { key, li }

  /* What a unit's row shows, and a key that changes whenever any of it does. */
  function unitRowParts(unit) {
    const fix = state.positions.get(unit.id) || unit.position;
    const staleText = !isStale(unit) ? "" : fix ? "stale " + C.fmtAge(C.ageSeconds(fix.at, state.skewMs)) : "no fix";
    const assignment = unit.active_assignment_id && state.assignments.get(unit.active_assignment_id);
    const target = assignment ? targetLabel(assignment) : "";
    return { staleText, target, key: `${unit.callsign}|${unit.kind}|${unit.status}|${staleText}|${target}` };
  }

  function unitRow(unit, { staleText, target }) {
    const li = row(
      `<span class="swatch" style="background:${C.UNIT_COLORS[unit.kind]}"></span>` +
      `<span class="grow"><strong>${C.esc(unit.callsign)}</strong> <span class="muted small">${C.UNIT_LABELS[unit.kind]}</span>` +
      (target ? ` → ${C.esc(target)}` : "") + `</span>` +
      `<span class="badge b-${unit.status}">${unit.status.replaceAll("_", " ")}</span>` +
      (staleText ? `<span class="badge b-stale">${staleText}</span>` : ""),
      () => {
        const now = state.positions.get(unit.id) || unit.position; // the row may be older than the fix
        if (now) map.flyTo([now.lat, now.lon], Math.max(map.getZoom(), 16));
      });
    li.dataset.id = unit.id;
    if (unit.status === "available") button(li, "Assign", () => openAssign({ unitId: unit.id }));
    return li;
  }

  /* Rows are built within one slice; the rest keep their old content, or wait to appear,
     until the next pass (boardIncomplete). */
  function renderUnitsBoard(units) {
    boardIncomplete = false;
    if (!units.length) {
      unitRows.clear();
      fill("units", [], "No units registered");
      return;
    }
    const sliceEnd = performance.now() + SLICE_MS;
    const items = [];
    for (const unit of units) {
      const parts = unitRowParts(unit);
      let current = unitRows.get(unit.id);
      if (!current || current.key !== parts.key) {
        if (performance.now() > sliceEnd) {
          boardIncomplete = true;
          if (current) items.push(current.li);
          continue;
        }
        const li = unitRow(unit, parts);
        if (current) current.li.replaceWith(li); // in place, where it is on the list
        current = { key: parts.key, li };
        unitRows.set(unit.id, current);
      }
      items.push(current.li);
    }
    const shown = new Set(units.map((unit) => unit.id));
    for (const [id, current] of unitRows) {
      if (!shown.has(id)) { current.li.remove(); unitRows.delete(id); }
    }
    const list = document.getElementById("units");
    let inOrder = list.children.length === items.length;
    for (let i = 0; inOrder && i < items.length; i++) inOrder = list.children[i] === items[i];
    if (!inOrder) list.replaceChildren(...items);
  }

  function renderPanels() {
    renderAlerts();
    const open = [...state.incidents.values()].filter((i) => i.status === "open");
    open.sort((a, b) =>
      (C.TRIAGE_RANK[a.triage] ?? 3) - (C.TRIAGE_RANK[b.triage] ?? 3) || b.severity - a.severity ||
      Date.parse(a.reported_at) - Date.parse(b.reported_at));
    fill("incidents", open.map((incident) => {
      const sent = activeAssignmentsFor("incident_id", incident.id).map((a) => state.units.get(a.unit_id)?.callsign).filter(Boolean);
      const li = row(
        `<span class="swatch" style="background:${C.incidentColor(incident)}"></span>` +
        `<span class="grow"><strong>${C.esc(C.KIND_LABELS[incident.kind])}</strong> ` +
        (incident.triage ? `<span class="badge b-${incident.triage}">${incident.triage}</span> ` : "") +
        `<span class="muted">sev ${incident.severity}</span>` +
        (sent.length ? ` · ${C.esc(sent.join(", "))}` : ` · <span class="age late">unassigned</span>`) +
        ((incident.note_flags || []).length ? ` <span class="badge b-stale" title="The note seems to hold personal details">note: ${C.esc(incident.note_flags.join(", "))}?</span>` : "") +
        (incident.enrichment ? `<span class="places">${C.esc(placesText(incident.enrichment))}</span>` : "") + `</span>` +
        `<span class="age" data-since="${incident.reported_at}"></span>`,
        () => map.flyTo([incident.lat, incident.lon], Math.max(map.getZoom(), 16)));
      li.dataset.id = incident.id;
      button(li, "Assign", () => openAssign({ incidentId: incident.id }));
      if (incident.kind === "escalation" && incident.demonstration_id && state.demonstrations.has(incident.demonstration_id)) {
        button(li, `Set tension ${incident.severity}`, () => applyTension(incident));
      }
      button(li, "Resolve", () => resolveIncident(incident.id));
      return li;
    }), "No open incidents");
    document.getElementById("incident-count").textContent = open.length;

    const active = [...state.assignments.values()].filter((a) => !["completed", "declined", "cancelled"].includes(a.status));
    active.sort((a, b) => a.priority - b.priority || Date.parse(a.times.dispatched) - Date.parse(b.times.dispatched));
    fill("assignments", active.map((assignment) => {
      const unit = state.units.get(assignment.unit_id);
      const acked = assignment.times.acknowledged;
      const li = row(
        `<span class="grow"><strong>${C.esc(unit ? unit.callsign : "?")}</strong> → ${C.esc(targetLabel(assignment))} ` +
        `<span class="muted">P${assignment.priority} ${C.esc(C.ASSIGNMENT_LABELS[assignment.kind])}</span></span>` +
        `<span class="badge b-${assignment.status}">${assignment.status.replace("_", " ")}</span>` +
        `<span class="age" data-since="${assignment.times.dispatched}" ${acked ? "" : 'data-late-after="60"'}></span>`,
        () => { const t = targetOf(assignment); if (t) map.flyTo([t.lat, t.lon], Math.max(map.getZoom(), 16)); });
      li.dataset.id = assignment.id;
      li.dataset.status = assignment.status;
      button(li, "Cancel", () => cancelAssignment(assignment), "danger");
      return li;
    }), "No active assignments");
    document.getElementById("assignment-count").textContent = active.length;

    const units = [...state.units.values()].sort((a, b) => a.kind.localeCompare(b.kind) || a.callsign.localeCompare(b.callsign));
    renderUnitsBoard(units);
    document.getElementById("unit-count").textContent = units.length;


    const demos = [...state.demonstrations.values()].sort((a, b) => (a.status === "ended") - (b.status === "ended") || b.tension - a.tension);
    fill("demonstrations", demos.map((demo) => {
      const li = row(
        `<span class="swatch tension-${demo.tension}"></span><span class="grow"><strong>${C.esc(demo.name)}</strong> ` +
        `<span class="muted">${demo.crowd_estimate.toLocaleString()} · ${demo.status}</span>` +
        (demo.federal_presence ? ` <span class="badge b-immediate">federal agents</span>` : "") + `</span>` +
        `<span class="badge">tension ${demo.tension} ${C.TENSION_LABELS[demo.tension]}</span>`,
        () => map.flyTo([demo.lat, demo.lon], Math.max(map.getZoom(), 16)));
      li.dataset.id = demo.id;
      button(li, "Edit", () => openDemoDialog(demo));
      button(li, "Assign", () => openAssign({ demonstrationId: demo.id }));
      return li;
    }), "No demonstrations");

    const counts = { available: 0, busy: 0 };
    for (const u of units) counts[u.status === "available" ? "available" : "busy"] += 1;
    document.getElementById("counts").textContent = `${counts.available} available · ${counts.busy} busy`;
    tickAges();
  }

  function tickAges() {
    for (const node of document.querySelectorAll(".age[data-since]")) {
      const seconds = C.ageSeconds(node.dataset.since, state.skewMs);
      node.textContent = C.fmtAge(seconds);
      node.classList.toggle("late", node.dataset.lateAfter !== undefined && seconds > Number(node.dataset.lateAfter));
    }
  }

  // Ages tick every second; staleness can change with no news, so re-check it too.
  setInterval(() => {
    tickAges();
    for (const unit of state.units.values()) {
      const marker = markers.units.get(unit.id);
      if (marker && marker._stale !== isStale(unit)) { dirty.units.add(unit.id); dirty.panels = true; }
    }
    if (dirty.units.size) scheduleRender();
  }, 1000);

  const FEED_LIMIT = 60;
  function describe(event) {
    const p = event.payload;
    const unitName = (id) => state.units.get(id)?.callsign || id;
    const steps = {
      AssignmentDelivered: "received", AssignmentAcknowledged: "acknowledged", AssignmentEnRoute: "is en route",
      AssignmentOnScene: "is on scene", AssignmentCompleted: "completed", AssignmentDeclined: "declined", AssignmentCancelled: "was cancelled",
    };
    if (steps[event.type]) return `${unitName(p.unit_id)} ${steps[event.type]}${p.reason ? ": " + p.reason : ""}`;
    switch (event.type) {
      case "DemonstrationCreated": return `Demonstration "${p.name}" added`;
      case "DemonstrationUpdated": return `${state.demonstrations.get(p.id)?.name || "Demonstration"}: ` +
        Object.entries(p.changes).filter(([k]) => k !== "area").map(([k, v]) => `${k.replace("_", " ")} ${v}`).join(", ");
      case "UnitRegistered": return `Unit ${p.callsign} registered`;
      case "UnitUpdated": return `${unitName(p.id)} ${Object.entries(p.changes).map(([k, v]) => `${k} ${v}`).join(", ")}`;
      case "IncidentReported": return `${C.KIND_LABELS[p.kind]}${p.triage ? " (" + p.triage + ")" : ""} reported by ${event.actor}`;
      case "IncidentUpdated": return `Incident ${Object.entries(p.changes).map(([k, v]) => `${k} ${v}`).join(", ")}`;
      case "AssignmentDispatched": return `${unitName(p.unit_id)} dispatched (${C.ASSIGNMENT_LABELS[p.kind]})`;
      default: return event.type;
    }
  }

  function feed(event) {
    const list = document.getElementById("feed");
    const time = new Date(event.at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
    const li = row(`<span class="age">${time}</span><span class="grow">${C.esc(describe(event))}</span>`);
    li.dataset.seq = event.seq;
    list.prepend(li);
    while (list.children.length > FEED_LIMIT) list.lastChild.remove();
  }

  // --- popups --------------------------------------------------------------------
  function popupWith(marker, html, buttons) {
    const div = document.createElement("div");
    div.innerHTML = html;
    const bar = document.createElement("div");
    bar.style.marginTop = "6px";
    for (const [label, handler] of buttons) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = label;
      b.style.marginRight = "6px";
      b.addEventListener("click", () => { map.closePopup(); handler(); });
      bar.appendChild(b);
    }
    div.appendChild(bar);
    marker.unbindPopup();
    marker.bindPopup(div).openPopup();
  }

  function openDemoPopup(id, marker) {
    const demo = state.demonstrations.get(id);
    const near = state.spatial.demonstration_fences[id] || [];
    popupWith(marker,
      `<strong>${C.esc(demo.name)}</strong><br>${demo.status} · crowd ${demo.crowd_estimate.toLocaleString()}<br>` +
      `tension ${demo.tension} ${C.TENSION_LABELS[demo.tension]}${demo.federal_presence ? "<br><strong>Federal agents present</strong>" : ""}` +
      `<div class="places">${C.esc(placesText(demo.enrichment))}${near.length ? "<br>reaches: " + C.esc(near.join("; ")) : ""}</div>` +
      `<div class="recs" data-recs="demonstration:${id}"></div>`,
      [["Edit", () => openDemoDialog(demo)], ["Assign unit", () => openAssign({ demonstrationId: id })]]);
    showRecommendations(document.querySelector(`[data-recs="demonstration:${id}"]`), { demonstrationId: id }, () => map.closePopup());
  }

  function openIncidentPopup(id, marker) {
    const incident = state.incidents.get(id);
    popupWith(marker,
      `<strong>${C.KIND_LABELS[incident.kind]}</strong>${incident.triage ? " · " + incident.triage : ""} · severity ${incident.severity}<br>` +
      `${C.esc(incident.note)}<br><span class="muted">reported ${new Date(incident.reported_at).toLocaleTimeString()} by ${C.esc(incident.reported_by)}</span>` +
      `<div class="places">${C.esc(placesText(incident.enrichment))}</div><div class="recs" data-recs="incident:${id}">Finding the nearest units…</div>`,
      [["Assign unit", () => openAssign({ incidentId: id })], ["Resolve", () => resolveIncident(id)]]);
    showRecommendations(document.querySelector(`[data-recs="incident:${id}"]`), { incidentId: id }, () => map.closePopup());
  }

  /* Fetch the top units by ETA and offer each as a one-click dispatch. */
  async function showRecommendations(container, { incidentId, demonstrationId }, after) {
    if (!container) return;
    const path = incidentId ? `/api/incidents/${incidentId}/recommendations` : `/api/demonstrations/${demonstrationId}/recommendations`;
    let answer;
    try { answer = await api("GET", path); } catch (error) { container.textContent = error.message; return; }
    container.replaceChildren();
    if (!answer.recommendations.length) {
      container.textContent = `No available ${C.UNIT_LABELS[answer.unit_kind].toLowerCase()} team with a fresh position.`;
      return;
    }
    const head = document.createElement("div");
    head.className = "muted small";
    head.textContent = `Nearest by ${answer.routing === "road" ? "road" : "straight line"}:`;
    container.appendChild(head);
    for (const rec of answer.recommendations) {
      const line = document.createElement("div");
      line.className = "rec";
      line.dataset.unit = rec.unit_id;
      line.innerHTML = `<span class="grow"><strong>${C.esc(rec.callsign)}</strong> ${C.fmtAge(rec.eta_s)} · ${C.fmtDistance(rec.distance_m)}` +
        (rec.skill_matches.length ? ` · ${C.esc(rec.skill_matches.join(", "))}` : "") + `</span>`;
      const b = document.createElement("button");
      b.type = "button";
      b.className = "primary";
      b.textContent = "Dispatch";
      b.addEventListener("click", async () => {
        const body = { unit_id: rec.unit_id, kind: answer.assignment_kind };
        if (incidentId) {
          body.incident_id = incidentId;
          const incident = state.incidents.get(incidentId);
          body.priority = incident?.triage === "immediate" ? 1 : incident?.triage === "delayed" ? 2 : 3;
        } else {
          body.demonstration_id = demonstrationId;
        }
        try {
          await api("POST", "/api/assignments", body);
          C.toast(`${rec.callsign} dispatched`);
          if (after) after();
        } catch (error) { C.toast(error.message, true); }
      });
      line.appendChild(b);
      container.appendChild(line);
    }
  }

  function openUnitPopup(id, marker) {
    const unit = state.units.get(id);
    const fix = state.positions.get(id) || unit.position;
    const inside = state.spatial.unit_fences[id] || [];
    popupWith(marker,
      `<strong>${C.esc(unit.callsign)}</strong> · ${C.UNIT_LABELS[unit.kind]}<br>${unit.status.replaceAll("_", " ")}` +
      `<br>skills: ${C.esc(unit.skills.join(", ") || "none")}` +
      (inside.length ? `<br>inside: ${C.esc(inside.join("; "))}` : "") +
      (fix ? `<br>fix ${C.fmtAge(C.ageSeconds(fix.at, state.skewMs))} ago, ±${fix.accuracy_m ?? "?"} m` : ""),
      unit.status === "available" ? [["Assign", () => openAssign({ unitId: id })]] : []);
  }

  // --- dialogs and actions --------------------------------------------------------
  for (const closer of document.querySelectorAll("[data-close]")) {
    closer.addEventListener("click", () => closer.closest("dialog").close());
  }

  function showError(prefix, error) {
    document.getElementById(`${prefix}-error`).textContent = error.field ? `${error.message} (${error.field})` : error.message;
    const form = document.getElementById(`${prefix}-form`);
    for (const input of form.querySelectorAll("[name]")) input.removeAttribute("aria-invalid");
    const culprit = error.field && form.querySelector(`[name="${error.field}"]`);
    if (culprit) { culprit.setAttribute("aria-invalid", "true"); culprit.focus(); }
  }

  let placing = null;
  function startPlacing(kind) {
    placing = kind;
    document.getElementById("placing").hidden = false;
    map.getContainer().style.cursor = "crosshair";
  }
  function stopPlacing() {
    placing = null;
    document.getElementById("placing").hidden = true;
    map.getContainer().style.cursor = "";
  }
  map.on("click", (e) => {
    if (!placing) return;
    const kind = placing;
    stopPlacing();
    if (kind === "demonstration") openDemoDialog(null, e.latlng);
    else openIncidentDialog(e.latlng);
  });
  document.getElementById("cancel-placing").addEventListener("click", stopPlacing);

  let editing = null;
  function openDemoDialog(demo, latlng) {
    editing = demo;
    const f = (id) => document.getElementById(id);
    f("demo-title").textContent = demo ? `Edit ${demo.name}` : "New demonstration";
    f("demo-name").value = demo ? demo.name : "";
    f("demo-crowd").value = demo ? demo.crowd_estimate : 100;
    f("demo-tension").value = demo ? demo.tension : 1;
    f("demo-status").value = demo ? demo.status : "active";
    f("demo-federal").checked = demo ? demo.federal_presence : false;
    f("demo-languages").value = demo ? (demo.languages || []).join(", ") : "";
    f("demo-lat").value = demo ? demo.lat : latlng.lat.toFixed(6);
    f("demo-lon").value = demo ? demo.lon : latlng.lng.toFixed(6);
    f("demo-error").textContent = "";
    f("demo-dialog").showModal();
    f("demo-name").focus();
  }

  document.getElementById("demo-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = (id) => document.getElementById(id);
    const body = {
      name: f("demo-name").value, crowd_estimate: Number(f("demo-crowd").value), tension: Number(f("demo-tension").value),
      status: f("demo-status").value, federal_presence: f("demo-federal").checked,
      lat: Number(f("demo-lat").value), lon: Number(f("demo-lon").value),
      languages: f("demo-languages").value.split(",").map((x) => x.trim().toLowerCase()).filter(Boolean),
    };
    try {
      if (editing) {
        const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
        const changes = Object.fromEntries(Object.entries(body).filter(([k, v]) => !same(editing[k], v)));
        if (Object.keys(changes).length) await api("PATCH", `/api/demonstrations/${editing.id}`, changes);
        C.toast(`${body.name} updated`);
      } else {
        await api("POST", "/api/demonstrations", body);
        C.toast(`${body.name} added`);
      }
      f("demo-dialog").close();
    } catch (error) { showError("demo", error); }
  });

  let incidentAt = null;
  function openIncidentDialog(latlng) {
    incidentAt = latlng;
    const select = document.getElementById("incident-demo");
    const demos = [...state.demonstrations.values()].filter((d) => d.status !== "ended")
      .map((d) => [d, C.metres(latlng.lat, latlng.lng, d.lat, d.lon)]).sort((a, b) => a[1] - b[1]);
    select.replaceChildren(new Option("(none)", ""), ...demos.map(([d, m]) => new Option(`${d.name} · ${C.fmtDistance(m)}`, d.id)));
    if (demos.length && demos[0][1] < 600) select.value = demos[0][0].id;
    document.getElementById("incident-where").textContent = `At ${latlng.lat.toFixed(5)}, ${latlng.lng.toFixed(5)}`;
    document.getElementById("incident-error").textContent = "";
    document.getElementById("incident-note").value = "";
    document.getElementById("incident-federal").checked = false;
    syncTriage();
    document.getElementById("incident-dialog").showModal();
  }
  function syncTriage() {
    const kind = document.getElementById("incident-kind").value;
    document.getElementById("triage-field").hidden = kind !== "injury";
    document.getElementById("federal-field").hidden = !["use_of_force", "property_damage"].includes(kind);
  }
  document.getElementById("incident-kind").addEventListener("change", syncTriage);

  document.getElementById("incident-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const kind = document.getElementById("incident-kind").value;
    const body = {
      kind, lat: incidentAt.lat, lon: incidentAt.lng, severity: Number(document.getElementById("incident-severity").value),
      note: document.getElementById("incident-note").value,
    };
    if (kind === "injury") body.triage = document.getElementById("incident-triage").value;
    if (["use_of_force", "property_damage"].includes(kind)) body.federal_involved = document.getElementById("incident-federal").checked;
    const demo = document.getElementById("incident-demo").value;
    if (demo) body.demonstration_id = demo;
    try {
      const incident = await api("POST", "/api/incidents", body, { "Idempotency-Key": C.newKey() });
      document.getElementById("incident-dialog").close();
      C.toast((incident.note_flags || []).length
        ? `${C.KIND_LABELS[kind]} logged. The note seems to hold a ${incident.note_flags.join(" and ")}: remove personal details.`
        : `${C.KIND_LABELS[kind]} logged`, (incident.note_flags || []).length > 0);
      upsert("incidents", incident);
      scheduleRender();
      if (kind === "injury") openAssign({ incidentId: incident.id });
    } catch (error) { showError("incident", error); }
  });

  function openAssign({ incidentId, demonstrationId, unitId } = {}) {
    const targetSelect = document.getElementById("assign-target");
    const incidents = [...state.incidents.values()].filter((i) => i.status === "open");
    const demos = [...state.demonstrations.values()].filter((d) => d.status !== "ended");
    targetSelect.replaceChildren(
      ...incidents.map((i) => new Option(`Incident: ${C.KIND_LABELS[i.kind]}${i.triage ? " (" + i.triage + ")" : ""} · sev ${i.severity}`, `incident:${i.id}`)),
      ...demos.map((d) => new Option(`Demonstration: ${d.name} · tension ${d.tension}`, `demonstration:${d.id}`)));
    if (incidentId) targetSelect.value = `incident:${incidentId}`;
    else if (demonstrationId) targetSelect.value = `demonstration:${demonstrationId}`;
    fillUnits(unitId);
    assignRecommendations();
    document.getElementById("assign-error").textContent = "";
    document.getElementById("assign-note").value = "";
    document.getElementById("assign-dialog").showModal();
  }

  function selectedTarget() {
    const [type, id] = (document.getElementById("assign-target").value || ":").split(":");
    return { type, id, entity: type === "incident" ? state.incidents.get(id) : state.demonstrations.get(id) };
  }

  function fillUnits(preferred) {
    const { type, entity } = selectedTarget();
    const kindSelect = document.getElementById("assign-kind");
    const wantKind = type === "incident" && entity?.kind === "injury" ? "medical_team" : "deescalation_team";
    kindSelect.value = type === "incident" && entity?.kind === "injury" ? "medical_aid" : type === "demonstration" ? "deescalation" : "observe";
    document.getElementById("assign-priority").value = entity?.triage === "immediate" ? "1" : entity?.triage === "delayed" ? "2" : "3";
    const units = [...state.units.values()].filter((u) => u.status === "available").map((u) => {
      const fix = state.positions.get(u.id) || u.position;
      const distance = fix && entity ? C.metres(fix.lat, fix.lon, entity.lat, entity.lon) : Infinity;
      return { u, distance, stale: isStale(u) };
    });
    // Right kind first, then fresh fixes, then distance.
    units.sort((a, b) => (b.u.kind === wantKind) - (a.u.kind === wantKind) || a.stale - b.stale || a.distance - b.distance);
    const select = document.getElementById("assign-unit");
    select.replaceChildren(...units.map(({ u, distance, stale }) => new Option(
      `${u.callsign} · ${C.UNIT_LABELS[u.kind]} · ${Number.isFinite(distance) ? C.fmtDistance(distance) : "no fix"}${stale ? " · stale" : ""}`, u.id)));
    if (preferred && units.some(({ u }) => u.id === preferred)) select.value = preferred;
  }
  function assignRecommendations() {
    const { type, id } = selectedTarget();
    const box = document.getElementById("recommendations");
    box.textContent = "";
    if (!id) return;
    box.textContent = "Finding the nearest units…";
    showRecommendations(box, type === "incident" ? { incidentId: id } : { demonstrationId: id },
      () => document.getElementById("assign-dialog").close());
  }
  document.getElementById("assign-target").addEventListener("change", () => {
    fillUnits(document.getElementById("assign-unit").value);
    assignRecommendations();
  });

  document.getElementById("assign-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const { type, id } = selectedTarget();
    const body = {
      unit_id: document.getElementById("assign-unit").value, kind: document.getElementById("assign-kind").value,
      priority: Number(document.getElementById("assign-priority").value), note: document.getElementById("assign-note").value,
    };
    body[type === "incident" ? "incident_id" : "demonstration_id"] = id;
    try {
      const assignment = await api("POST", "/api/assignments", body);
      document.getElementById("assign-dialog").close();
      C.toast(`${state.units.get(assignment.unit_id)?.callsign || "Unit"} dispatched`);
    } catch (error) { showError("assign", error); }
  });

  async function resolveIncident(id) {
    try { await api("PATCH", `/api/incidents/${id}`, { status: "resolved" }); C.toast("Incident resolved"); }
    catch (error) { C.toast(error.message, true); }
  }

  async function applyTension(incident) {
    try {
      await api("PATCH", `/api/demonstrations/${incident.demonstration_id}`, { tension: incident.severity });
      await api("PATCH", `/api/incidents/${incident.id}`, { status: "resolved" });
      C.toast(`Tension set to ${incident.severity}`);
    } catch (error) { C.toast(error.message, true); }
  }

  async function cancelAssignment(assignment) {
    const unit = state.units.get(assignment.unit_id);
    if (!window.confirm(`Cancel ${unit ? unit.callsign : "this unit"}'s assignment?`)) return;
    try { await api("POST", `/api/assignments/${assignment.id}/status`, { status: "cancelled", reason: "cancelled by EOC" }); }
    catch (error) { C.toast(error.message, true); }
  }

  document.getElementById("btn-new-demo").addEventListener("click", () => startPlacing("demonstration"));
  document.getElementById("btn-log-incident").addEventListener("click", () => startPlacing("incident"));
  document.getElementById("btn-assign").addEventListener("click", () => openAssign({}));
  document.getElementById("toggle-labels").addEventListener("change", (e) => {
    showLabels = e.target.checked;
    for (const id of state.units.keys()) dirty.units.add(id);
    scheduleRender();
  });
  document.addEventListener("keydown", (e) => {
    if (e.target.closest("input, select, textarea, dialog")) { if (e.key === "Escape") stopPlacing(); return; }
    if (e.key === "Escape") stopPlacing();
    else if (e.key === "i") startPlacing("incident");
    else if (e.key === "d") startPlacing("demonstration");
    else if (e.key === "a") openAssign({});
  });
  document.getElementById("logout-csrf").value = config.csrf;
  document.getElementById("user").textContent = `${config.user.name} (${config.user.role})`;
  if (config.user.role === "viewer") {
    for (const id of ["btn-new-demo", "btn-log-incident", "btn-assign"]) document.getElementById(id).disabled = true;
  }

  let importedOverlays = [];
  const LAYER_COLORS = {
    city_property: "#26a69a", municipal_building: "#a1887f", sensitive_site: "#ec407a",
    camera: "#ffee58", neighborhood: "#78909c", streets: "#546e7a",
  };
  async function loadLayers() {
    let listing;
    try { listing = (await api("GET", "/api/layers")).layers; } catch (_e) { return; }
    for (const overlay of importedOverlays) { layerControl.removeLayer(overlay); map.removeLayer(overlay); }
    importedOverlays = [];
    for (const layer of listing) {
      const color = LAYER_COLORS[layer.kind] || "#90a4ae";
      const overlay = L.geoJSON(null, {
        style: () => ({ renderer, color, weight: layer.kind === "streets" ? 1 : 1.5, opacity: 0.7, fillOpacity: layer.kind === "neighborhood" ? 0 : 0.12 }),
        pointToLayer: (f, latlng) => L.circleMarker(latlng, { renderer, radius: 5, color, weight: 2, fillOpacity: 0.35 }),
        onEachFeature: (f, l) => { if (f.properties && f.properties.name) l.bindTooltip(`${C.esc(f.properties.name)} · ${C.esc(f.properties.category || layer.kind)}`); },
      });
      overlay.layerKind = layer.kind;
      fetch(layer.url, { credentials: "same-origin" }).then((r) => r.json()).then((data) => overlay.addData(data)).catch(() => {});
      // Streets and neighborhoods are context: off until asked for; places of the order's rules are on.
      if (!["streets", "neighborhood"].includes(layer.kind)) overlay.addTo(map);
      layerControl.addOverlay(overlay, `${layer.name} (${layer.kind.replace("_", " ")}, ${layer.features})`);
      importedOverlays.push(overlay);
    }
  }
  loadLayers();

  // --- replay -------------------------------------------------------------------------
  /* The past is rebuilt by the server from the event log for each moment shown. */
  const replay = { active: false, playing: null, pending: null, inFlight: false };
  state.replay = replay;
  const slider = document.getElementById("replay-slider");

  async function seek(ms) {
    replay.pending = ms;
    if (replay.inFlight) return; // the newest request wins; older ones are skipped
    replay.inFlight = true;
    while (replay.pending !== null) {
      const target = replay.pending;
      replay.pending = null;
      try {
        const snapshot = await api("GET", `/api/replay/state?at=${encodeURIComponent(new Date(target).toISOString())}`);
        if (!replay.active) break;
        document.getElementById("feed").replaceChildren();
        resetFrom(snapshot);
        const label = new Date(target).toLocaleString();
        document.getElementById("replay-time").textContent = label;
        setConn("replay", `Replay · ${new Date(target).toLocaleTimeString()}`);
      } catch (error) { C.toast(error.message, true); }
    }
    replay.inFlight = false;
  }

  async function startReplay() {
    const span = await api("GET", "/api/replay");
    if (!span.start) { C.toast("Nothing recorded yet"); return; }
    replay.active = true;
    slider.min = Date.parse(span.start);
    slider.max = Date.parse(span.end);
    slider.value = slider.max;
    document.getElementById("replay-bar").hidden = false;
    for (const id of ["btn-new-demo", "btn-log-incident", "btn-assign"]) document.getElementById(id).disabled = true;
    seek(Number(slider.value));
  }

  function stopReplay() {
    pause();
    replay.active = false;
    document.getElementById("replay-bar").hidden = true;
    if (config.user.role !== "viewer") {
      for (const id of ["btn-new-demo", "btn-log-incident", "btn-assign"]) document.getElementById(id).disabled = false;
    }
    document.getElementById("feed").replaceChildren();
    state.seq = null;
    setConn(socket.connected ? "live" : "offline", socket.connected ? "Live" : "Offline · reconnecting");
    sync();
  }

  function pause() {
    clearInterval(replay.playing);
    replay.playing = null;
    document.getElementById("replay-play").textContent = "Play";
  }

  document.getElementById("replay-play").addEventListener("click", () => {
    if (replay.playing) { pause(); return; }
    document.getElementById("replay-play").textContent = "Pause";
    replay.playing = setInterval(() => {
      const next = Number(slider.value) + 500 * Number(document.getElementById("replay-speed").value);
      if (next >= Number(slider.max)) { slider.value = slider.max; seek(Number(slider.max)); pause(); return; }
      slider.value = next;
      seek(next);
    }, 500);
  });
  slider.addEventListener("input", () => seek(Number(slider.value)));
  /* datetime-local inputs speak local time without an offset; the API wants ISO 8601 with one. */
  function localInput(ms) {
    const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60000);
    return d.toISOString().slice(0, 19);
  }
  document.getElementById("btn-report").addEventListener("click", async () => {
    let span = { start: null };
    try { span = await api("GET", "/api/replay"); } catch (_e) { /* default to the last 12 hours */ }
    const now = Date.now() + 60000;
    document.getElementById("report-from").value = localInput(span.start ? Date.parse(span.start) : now - 12 * 3600 * 1000);
    document.getElementById("report-to").value = localInput(now);
    document.getElementById("report-error").textContent = "";
    document.getElementById("report-dialog").showModal();
  });
  document.getElementById("report-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const from = new Date(document.getElementById("report-from").value);
    const to = new Date(document.getElementById("report-to").value);
    if (!(to > from)) { document.getElementById("report-error").textContent = "'To' must be after 'From' (to)"; return; }
    const query = new URLSearchParams({
      from: from.toISOString(), to: to.toISOString(), format: document.getElementById("report-format").value,
      redact_notes: document.getElementById("report-redact").checked ? "true" : "false",
    });
    window.location.href = `/api/report?${query}`;
    document.getElementById("report-dialog").close();
    C.toast("Building the report…");
  });
  document.getElementById("btn-replay").addEventListener("click", () => { if (replay.active) stopReplay(); else startReplay(); });
  document.getElementById("replay-exit").addEventListener("click", stopReplay);

  // --- live connection ------------------------------------------------------------
  const conn = document.getElementById("conn");
  function setConn(kind, text) { conn.className = `conn ${kind}`; conn.textContent = text; }

  const socket = io({ transports: ["websocket"], reconnectionDelayMax: 5000 });
  function sync() {
    socket.emit("sync", state.seq === null ? {} : { last_seq: state.seq }, (answer) => {
      if (!answer || !answer.ok) C.toast(`Live feed refused: ${answer ? answer.error : "no answer"}`, true);
    });
  }
  socket.on("connect", () => { if (!replay.active) { setConn("live", "Live"); sync(); } });
  socket.on("disconnect", () => setConn("offline", "Offline · reconnecting"));
  socket.on("connect_error", (error) => {
    setConn("offline", "Offline · reconnecting");
    if (/sign in|session/i.test(error.message || "")) window.location.href = "/login";
  });
  socket.on("snapshot", (snapshot) => { if (!replay.active) resetFrom(snapshot); });
  socket.on("layers", () => loadLayers());
  socket.on("resync", (message) => {
    if (replay.active) return;
    if (state.seq !== null && message.from_seq !== state.seq) { state.seq = null; sync(); return; }
    applyDelta(message);
  });
  // Several nodes: fixes come from every node, outside the sequence of frames.
  socket.on("positions", (message) => {
    if (replay.active || state.seq === null) return;
    timed("apply", () => applyPositions(message.positions));
    scheduleRender();
  });
  socket.on("frame", (frame) => {
    if (replay.active) return; // the past is on screen; live resumes with a fresh snapshot
    if (state.seq === null) return; // a snapshot is on its way
    if (frame.from_seq > state.seq) { sync(); return; } // a gap: ask for exactly what we missed
    timed("apply", () => applyDelta(frame));
  });
})();
