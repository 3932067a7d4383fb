/* Field tablet: assignments pushed over Socket.IO, actions queued on the device while offline.

Every action carries an idempotency key and waits in localStorage until the
server confirms it, so a dropped connection, a reload or a retry never loses an
action and never applies one twice. Actions are sent one at a time, in order.
*/
"use strict";

(() => {
  const C = Common;
  const config = JSON.parse(document.getElementById("config").textContent);
  const TOKEN_KEY = "coordinator.field.token";
  const ORDER = ["dispatched", "delivered", "acknowledged", "en_route", "on_scene", "completed"];
  const ENDED = ["completed", "declined", "cancelled"];
  const $ = (id) => document.getElementById(id);

  const fromHash = new URLSearchParams(window.location.hash.slice(1)).get("token");
  if (fromHash) {
    localStorage.setItem(TOKEN_KEY, fromHash);
    history.replaceState(null, "", window.location.pathname);
  }
  const token = localStorage.getItem(TOKEN_KEY);
  if (!token) {
    showSignin("");
    return;
  }

  function showSignin(message) {
    $("app").hidden = true;
    $("signin").hidden = false;
    $("signin-error").textContent = message;
  }
  $("signin-form").addEventListener("submit", (e) => {
    e.preventDefault();
    localStorage.setItem(TOKEN_KEY, $("token-input").value.trim());
    window.location.reload();
  });
  $("app").hidden = false;

  const field = {
    unit: null,
    assignments: new Map(), // id -> {assignment, target}
    fix: null,
    unsentFix: null,
    connected: false,
  };
  window.field = field; // for the end-to-end tests

  // --- the offline queue -----------------------------------------------------------
  const queueKey = () => `coordinator.field.queue.${token.slice(0, 12)}`;
  const loadQueue = () => JSON.parse(localStorage.getItem(queueKey()) || "[]");
  const saveQueue = (queue) => { localStorage.setItem(queueKey(), JSON.stringify(queue)); showQueue(); };
  field.queue = loadQueue;

  function enqueue(type, data) {
    const queue = loadQueue();
    queue.push({ key: C.newKey(), type, data, queued_at: new Date().toISOString() });
    saveQueue(queue);
    flush();
  }

  function showQueue() {
    const n = loadQueue().length;
    $("queue").hidden = n === 0;
    $("queue").textContent = `${n} queued`;
  }

  let flushing = false;
  function flush() {
    if (flushing || !field.connected) return;
    const queue = loadQueue();
    if (!queue.length) return;
    flushing = true;
    const item = queue[0];
    socket.timeout(8000).emit("action", { key: item.key, type: item.type, data: item.data }, (err, answer) => {
      flushing = false;
      if (err) return; // no answer: keep it, try again on the next connect or tick
      if (!answer.ok && (answer.status || 500) >= 500) return;
      saveQueue(loadQueue().filter((q) => q.key !== item.key));
      if (!answer.ok) C.toast(`Refused: ${answer.error}`, true);
      else if (item.type === "assignment_status") mergeAssignment(answer.result);
      else if (item.type === "incident" && !answer.replayed) C.toast("Report received by the EOC");
      flush();
    });
  }
  setInterval(flush, 3000);

  // --- map ----------------------------------------------------------------------------
  const map = L.map("map", { preferCanvas: true }).setView([42.3585, -71.0615], 16);
  C.baseLayer(map, config);
  const me = L.circleMarker([0, 0], { radius: 10, color: "#fff", weight: 3, fillColor: "#1e88e5", fillOpacity: 1 });
  const accuracy = L.circle([0, 0], { radius: 1, color: "#1e88e5", weight: 1, fillOpacity: 0.1 });
  const targetMarker = L.circleMarker([0, 0], { radius: 12, color: "#fff", weight: 3, fillColor: "#d50000", fillOpacity: 1 });
  const line = L.polyline([], { color: "#ffd600", weight: 4, dashArray: "10 8" });
  let placingMe = false;
  let centred = false;

  map.on("click", (e) => {
    if (!placingMe) return;
    placingMe = false;
    map.getContainer().style.cursor = "";
    setFix({ lat: e.latlng.lat, lon: e.latlng.lng, accuracy_m: 25, at: new Date().toISOString() }, "manual");
  });
  $("btn-here").addEventListener("click", () => {
    placingMe = true;
    map.getContainer().style.cursor = "crosshair";
    C.toast("Tap the map where you are");
  });

  // --- position ----------------------------------------------------------------------
  let lastSent = 0;
  function setFix(fix, source) {
    field.fix = fix;
    field.unsentFix = fix; // only the newest matters; older ones are superseded
    $("gps").textContent = source === "gps" ? `GPS ±${Math.round(fix.accuracy_m)} m` : "Position set by hand";
    me.setLatLng([fix.lat, fix.lon]).addTo(map);
    accuracy.setLatLng([fix.lat, fix.lon]).setRadius(fix.accuracy_m || 1).addTo(map);
    if (!centred) { map.setView([fix.lat, fix.lon], 16); centred = true; }
    sendFix();
    renderCard();
  }

  function sendFix(force = false) {
    if (!field.connected || !field.unsentFix) return;
    if (!force && Date.now() - lastSent < 2000) { setTimeout(() => sendFix(true), 2000); return; }
    const fix = field.unsentFix;
    field.unsentFix = null;
    lastSent = Date.now();
    socket.timeout(8000).emit("position", fix, (err, answer) => {
      if (err && !field.unsentFix) field.unsentFix = fix; // keep it for the reconnect
      else if (answer && !answer.ok) C.toast(`Position refused: ${answer.error}`, true);
    });
  }

  if ("geolocation" in navigator) {
    navigator.geolocation.watchPosition(
      (p) => setFix({ lat: p.coords.latitude, lon: p.coords.longitude, accuracy_m: p.coords.accuracy, at: new Date(p.timestamp).toISOString() }, "gps"),
      () => { $("gps").textContent = "No GPS: set position by hand"; },
      { enableHighAccuracy: true, maximumAge: 5000, timeout: 20000 });
  } else {
    $("gps").textContent = "No GPS: set position by hand";
  }

  // --- assignments ---------------------------------------------------------------------
  function current() {
    const active = [...field.assignments.values()].filter((m) => !ENDED.includes(m.assignment.status));
    active.sort((a, b) => a.assignment.priority - b.assignment.priority);
    return active[0] || null;
  }

  /* Keep what the device queued: a step not yet confirmed must not be shown undone. */
  function mergeAssignment(assignment, target) {
    const known = field.assignments.get(assignment.id);
    const merged = { assignment: { ...assignment }, target: target || (known && known.target) };
    if (known && ORDER.indexOf(known.assignment.status) > ORDER.indexOf(assignment.status) && !ENDED.includes(assignment.status)) {
      merged.assignment.status = known.assignment.status;
    }
    field.assignments.set(assignment.id, merged);
    renderCard();
  }

  function receive(message, announce) {
    const before = field.assignments.get(message.assignment.id);
    mergeAssignment(message.assignment, message.target);
    if (message.unit) setUnit(message.unit);
    if (message.assignment.status === "dispatched") {
      socket.emit("received", { assignment_id: message.assignment.id });
    }
    if (announce && !before && !ENDED.includes(message.assignment.status)) {
      $("assignment").classList.add("flash");
      setTimeout(() => $("assignment").classList.remove("flash"), 3200);
      if (navigator.vibrate) navigator.vibrate([200, 100, 200]);
    }
    if (before && !ENDED.includes(before.assignment.status) && message.assignment.status === "cancelled") {
      C.toast("Assignment cancelled by the EOC", true);
    }
  }

  function setUnit(unit) {
    field.unit = unit;
    $("callsign").textContent = `${unit.callsign} · ${C.UNIT_LABELS[unit.kind]}`;
    $("unit-status").textContent = unit.status.replaceAll("_", " ");
    $("unit-status").className = `badge b-${unit.status}`;
    const out = unit.status === "out_of_service";
    $("btn-availability").textContent = out ? "Back in service" : "Go out of service";
    $("btn-availability").dataset.next = out ? "available" : "out_of_service";
  }

  function step(status, reason) {
    const now = current();
    if (!now) return;
    const data = { assignment_id: now.assignment.id, status };
    if (reason) data.reason = reason;
    now.assignment.status = status; // shown at once; the queue makes it true
    enqueue("assignment_status", data);
    renderCard();
  }

  function renderCard() {
    const now = current();
    $("no-assignment").hidden = !!now;
    $("assignment").hidden = !now;
    if (!now) {
      targetMarker.remove();
      line.remove();
      return;
    }
    const { assignment, target } = now;
    const targetName = target.target_type === "incident"
      ? `${C.KIND_LABELS[target.kind] || "Incident"}${target.triage ? " · triage " + target.triage : ""}`
      : `${target.name} · tension ${target.tension} ${C.TENSION_LABELS[target.tension] || ""}`;
    $("assignment-head").innerHTML =
      `<div class="kind">${C.esc(C.ASSIGNMENT_LABELS[assignment.kind])} <span class="badge">P${assignment.priority}</span></div>` +
      `<div class="target">${C.esc(targetName)}</div>` +
      `<div class="muted">status: <strong id="assignment-status">${assignment.status.replace("_", " ")}</strong></div>`;
    $("assignment-note").textContent = [assignment.note, target.note].filter(Boolean).join(" · ");
    const index = ORDER.indexOf(assignment.status);
    for (const b of document.querySelectorAll("[data-step]")) {
      const stepIndex = ORDER.indexOf(b.dataset.step);
      b.disabled = stepIndex <= index;
      b.classList.toggle("current", stepIndex === index + 1 || (index < 2 && b.dataset.step === "acknowledged"));
    }
    $("btn-decline").disabled = assignment.status === "on_scene";
    if (target.lat !== undefined) {
      targetMarker.setLatLng([target.lat, target.lon]).addTo(map);
      if (field.fix) {
        line.setLatLngs([[field.fix.lat, field.fix.lon], [target.lat, target.lon]]).addTo(map);
        $("assignment-distance").textContent = `${C.fmtDistance(C.metres(field.fix.lat, field.fix.lon, target.lat, target.lon))} away`;
      } else {
        $("assignment-distance").textContent = "";
      }
    }
  }

  for (const b of document.querySelectorAll("[data-step]")) b.addEventListener("click", () => step(b.dataset.step));
  $("btn-decline").addEventListener("click", () => { $("decline-text").value = ""; $("decline-dialog").showModal(); });
  for (const b of document.querySelectorAll("[data-reason]")) {
    b.addEventListener("click", () => { $("decline-dialog").close(); step("declined", b.dataset.reason); });
  }
  $("decline-form").addEventListener("submit", (e) => {
    const reason = $("decline-text").value.trim();
    if (!reason) { e.preventDefault(); $("decline-text").focus(); return; }
    step("declined", reason);
  });
  $("btn-availability").addEventListener("click", () => enqueue("unit_status", { status: $("btn-availability").dataset.next }));
  for (const closer of document.querySelectorAll("[data-close]")) closer.addEventListener("click", () => closer.closest("dialog").close());

  // --- reports ---------------------------------------------------------------------------
  function needFix() {
    if (field.fix) return true;
    C.toast("Set your position first (GPS or tap 'Set my position')", true);
    return false;
  }

  let demonstrations = [];
  function nearestDemonstration() {
    if (!field.fix || !demonstrations.length) return null;
    const ranked = demonstrations.map((d) => [d, C.metres(field.fix.lat, field.fix.lon, d.lat, d.lon)]).sort((a, b) => a[1] - b[1]);
    return ranked[0][1] < 600 ? ranked[0][0] : null;
  }
  async function loadDemonstrations() {
    try {
      demonstrations = (await C.api("GET", "/api/demonstrations", undefined, { Authorization: `Bearer ${token}` }))
        .filter((d) => d.status !== "ended");
    } catch (_e) { /* offline: keep the last list */ }
  }

  $("btn-injury").addEventListener("click", () => { if (needFix()) { $("injury-note").value = ""; $("injury-dialog").showModal(); } });
  for (const b of document.querySelectorAll("[data-triage]")) {
    b.addEventListener("click", () => {
      $("injury-dialog").close();
      const data = { kind: "injury", triage: b.dataset.triage, lat: field.fix.lat, lon: field.fix.lon, note: $("injury-note").value };
      const demo = nearestDemonstration();
      if (demo) data.demonstration_id = demo.id;
      enqueue("incident", data);
    });
  }

  $("btn-tension").addEventListener("click", async () => {
    if (!needFix()) return;
    await loadDemonstrations();
    const near = nearestDemonstration();
    $("tension-demo").replaceChildren(...demonstrations.map((d) => new Option(`${d.name} (now ${d.tension})`, d.id)));
    if (near) $("tension-demo").value = near.id;
    if (!demonstrations.length) { C.toast("No demonstrations known", true); return; }
    $("tension-dialog").showModal();
  });
  for (const b of document.querySelectorAll("[data-level]")) {
    b.addEventListener("click", () => {
      $("tension-dialog").close();
      const level = Number(b.dataset.level);
      // A tension report is an escalation incident; the EOC applies it to the demonstration.
      enqueue("incident", {
        kind: "escalation", severity: level, lat: field.fix.lat, lon: field.fix.lon,
        demonstration_id: $("tension-demo").value, note: `Tension ${level} (${C.TENSION_LABELS[level]}) reported from the field`,
      });
    });
  }

  $("btn-federal").addEventListener("click", () => { if (needFix()) { $("federal-note").value = ""; $("federal-dialog").showModal(); } });
  $("federal-form").addEventListener("submit", () => {
    const data = { kind: "federal_activity", severity: 3, lat: field.fix.lat, lon: field.fix.lon, note: $("federal-note").value };
    const demo = nearestDemonstration();
    if (demo) data.demonstration_id = demo.id;
    enqueue("incident", data);
  });

  $("btn-signout").addEventListener("click", () => {
    const pending = loadQueue().length;
    if (pending && !window.confirm(`${pending} action(s) not yet sent will stay on this device. Sign out?`)) return;
    localStorage.removeItem(TOKEN_KEY);
    window.location.reload();
  });

  // --- connection ------------------------------------------------------------------------
  const conn = $("conn");
  const socket = io({ transports: ["websocket"], auth: { token }, reconnectionDelayMax: 5000 });
  socket.on("connect", () => {
    field.connected = true;
    conn.className = "conn live";
    conn.textContent = "Online";
    socket.emit("sync", {});
    sendFix(true);
    flush();
    loadDemonstrations();
  });
  socket.on("disconnect", () => {
    field.connected = false;
    flushing = false;
    conn.className = "conn offline";
    conn.textContent = "Offline · actions are queued";
  });
  socket.on("connect_error", (error) => {
    field.connected = false;
    conn.className = "conn offline";
    conn.textContent = "Offline · actions are queued";
    if (/token/i.test(error.message || "")) {
      localStorage.removeItem(TOKEN_KEY);
      showSignin(`Sign-in refused: ${error.message}`);
    }
  });
  socket.on("assignments", (message) => {
    setUnit(message.unit);
    for (const item of message.assignments) receive(item, true);
    renderCard();
  });
  socket.on("assignment", (message) => receive(message, true));
  showQueue();
  renderCard();
})();
