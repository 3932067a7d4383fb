/* Helpers shared by the EOC dashboard and the field tablet. */
"use strict";

const Common = (() => {
  const TENSION_COLORS = { 1: "#2e7d32", 2: "#9e9d24", 3: "#f9a825", 4: "#ef6c00", 5: "#c62828" };
  const TENSION_LABELS = { 1: "calm", 2: "elevated", 3: "tense", 4: "volatile", 5: "violent" };
  const UNIT_COLORS = { medical_team: "#e53935", deescalation_team: "#1e88e5", field_supervisor: "#ab47bc" };
  const UNIT_LABELS = { medical_team: "Medical", deescalation_team: "De-escalation", field_supervisor: "Supervisor" };
  const STATUS_RING = {
    available: "#ffffff", assigned: "#ffd600", en_route: "#ff9100", on_scene: "#00e676", out_of_service: "#757575",
  };
  const INCIDENT_COLORS = {
    federal_activity: "#7c4dff", use_of_force: "#d81b60", property_damage: "#8d6e63",
    warrantless_entry: "#536dfe", escalation: "#ff6d00", other: "#78909c",
  };
  const TRIAGE_COLORS = { immediate: "#d50000", delayed: "#ffab00", minor: "#64dd17" };
  const TRIAGE_RANK = { immediate: 0, delayed: 1, minor: 2 };
  const KIND_LABELS = {
    injury: "Injury", federal_activity: "Federal activity", use_of_force: "Use of force",
    property_damage: "Property damage", warrantless_entry: "Warrantless entry", escalation: "Escalation", other: "Other",
  };
  const ASSIGNMENT_LABELS = { medical_aid: "Medical aid", deescalation: "De-escalation", observe: "Observe", support: "Support" };

  function esc(value) {
    return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }

  function incidentColor(incident) {
    return incident.kind === "injury" ? TRIAGE_COLORS[incident.triage] || "#d50000" : INCIDENT_COLORS[incident.kind] || "#78909c";
  }

  /* Seconds since an ISO time, by the server's clock when we know its offset. */
  function ageSeconds(iso, skewMs = 0) {
    return Math.max(0, (Date.now() + skewMs - Date.parse(iso)) / 1000);
  }

  function fmtAge(seconds) {
    const s = Math.floor(seconds);
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
    return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  }

  function metres(lat1, lon1, lat2, lon2) {
    const r = 6371000, rad = Math.PI / 180;
    const dp = (lat2 - lat1) * rad, dl = (lon2 - lon1) * rad;
    const a = Math.sin(dp / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dl / 2) ** 2;
    return 2 * r * Math.asin(Math.sqrt(a));
  }

  function fmtDistance(m) {
    return m < 1000 ? `${Math.round(m)} m` : `${(m / 1000).toFixed(1)} km`;
  }

  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  let toastTimer = null;
  function toast(message, bad = false) {
    let node = document.getElementById("toast");
    if (!node) {
      node = document.createElement("div");
      node.id = "toast";
      node.setAttribute("role", "status");
      document.body.appendChild(node);
    }
    node.className = bad ? "toast bad" : "toast";
    node.textContent = message;
    node.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { node.hidden = true; }, bad ? 6000 : 3000);
  }

  /* Call the JSON API; throws an Error whose .field names the refused field. */
  async function api(method, path, body, headers = {}) {
    const response = await fetch(path, {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    try { data = await response.json(); } catch (_e) { data = null; }
    if (!response.ok) {
      const error = new Error((data && data.error) || `${response.status} ${response.statusText}`);
      error.field = data && data.field;
      error.status = response.status;
      throw error;
    }
    return data;
  }

  function baseLayer(map, config) {
    if (!config.tile_url) return null;
    // Vector layers sit on the canvas renderer, so a dead tile server only blanks the background.
    return L.tileLayer(config.tile_url, { attribution: config.tile_attribution, maxZoom: 19 }).addTo(map);
  }

  return {
    TENSION_COLORS, TENSION_LABELS, UNIT_COLORS, UNIT_LABELS, STATUS_RING, INCIDENT_COLORS, TRIAGE_COLORS,
    TRIAGE_RANK, KIND_LABELS, ASSIGNMENT_LABELS,
    esc, incidentColor, ageSeconds, fmtAge, metres, fmtDistance, newKey, toast, api, baseLayer,
  };
})();
