// Seawatch map page: vessels by risk band, the live alert list, a vessel panel with its track.
// Plain JS over Leaflet (vendored, no tiles): land comes from /map/coastline.geojson, zones from /map/region.geojson,
// everything else from /api/v1 with the analyst's key in X-API-Key.
"use strict";

(() => {
  if (typeof L === "undefined") { // the vendored library is build output: say how to build it
    const box = document.getElementById("message");
    box.textContent = "The map library is missing from /static/vendor: run api/web/build.sh (or make setup) and reload.";
    box.className = "error";
    box.hidden = false;
    return;
  }
  const API = "/api/v1";
  const KEY_STORE = "seawatch.apiKey";
  const BANDS = ["low", "medium", "high", "critical"];
  const BAND_EDGES = [20, 50, 75]; // models/schema.py: 0-20 low, 21-50 medium, 51-75 high, 76+ critical
  const BAND_RADIUS = { low: 3.5, medium: 4.5, high: 6, critical: 7.5 };
  const BAND_COLOR = { low: "#3b9b5e", medium: "#e2b203", high: "#f0701c", critical: "#d11f2b" }; // as in app.css
  const PAGE_SIZE = 500; // the API's page_size_max by default
  const MAX_VESSEL_PAGES = 40;
  const ALERT_PAGE = 100;
  const VESSEL_REFRESH_MS = 30000;
  const STATION_REFRESH_MS = 30000; // station states change by 10-minute buckets
  const QUALITY_REFRESH_MS = 60000; // precision moves with analysts' decisions: a minute is fresh enough
  const VESSEL_ALERTS_SHOWN = 12; // the panel's recent alerts, each with its triage actions
  const WATCHLIST_RING = "#6a1b9a"; // a vessel on an analyst's watchlist: a thick ring of its own colour
  const TRIAGE_SHOWN = 50; // the latest decisions in the panel's triage history
  const CONTEXT_DEG = 6; // land drawn coarsely this far around the region's box
  const FALLBACK_VIEW = [105.5, 17.0, 110.0, 22.0]; // Gulf of Tonkin, min_lon, min_lat, max_lon, max_lat
  const ZONE_STYLE = {
    restricted: { color: "#b0182a", dashArray: "6 4" },
    military: { color: "#b0182a", dashArray: "6 4" },
    protected: { color: "#2b7a3d", dashArray: "6 4" },
    watch: { color: "#d2691e", dashArray: "4 3" },
    fishing: { color: "#2a7f96", dashArray: "2 4" },
  };
  const KIND_NAMES = {
    ais_gap: "AIS gap", encounter: "Encounter", loitering: "Loitering", spoofing: "Spoofing",
    land_position: "On land", identity_conflict: "Identity conflict", identity_change: "Identity change",
    invalid_identity: "Invalid identity", draught_change: "Draught change", zone_entry: "Zone entry",
    border_crossing: "Border crossing", distress: "Distress",
  };

  const $ = (id) => document.getElementById(id);
  const hooks = { vessel: [], close: [] }; // called with (vessel, panel body) after the panel is drawn; on close
  const state = {
    key: null,
    view: FALLBACK_VIEW,
    vessels: new Map(), // mmsi -> {v, marker}
    alerts: new Map(), // alert_id -> {a, el}
    alertCursor: null,
    selected: null, // mmsi
    selectedAlert: null,
    trackLayer: null,
    halo: null,
    stream: null, // AbortController of the live stream
    streamId: null, // last event id seen
    vesselTimer: null,
    refreshSoon: null,
    loading: 0,
  };

  // ---------------------------------------------------------------- API key and requests
  class HttpError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  function takeKeyFromUrl() {
    const url = new URL(window.location.href);
    const key = url.searchParams.get("key");
    if (key) {
      localStorage.setItem(KEY_STORE, key);
      url.searchParams.delete("key"); // keep the key out of the address bar and the history
      history.replaceState(null, "", url.pathname + url.search + url.hash);
    }
    state.key = localStorage.getItem(KEY_STORE);
  }

  function askKey(problem) {
    return new Promise((resolve) => {
      const dialog = $("key-dialog");
      $("key-error").hidden = !problem;
      $("key-error").textContent = problem || "";
      $("key-input").value = "";
      $("key-form").onsubmit = (ev) => {
        ev.preventDefault();
        const key = $("key-input").value.trim();
        if (!key) return;
        localStorage.setItem(KEY_STORE, key);
        state.key = key;
        dialog.close();
        resolve(key);
      };
      if (!dialog.open) dialog.showModal();
    });
  }

  async function api(path, options = {}) {
    const headers = Object.assign({ Accept: "application/json" }, options.headers || {});
    if (state.key) headers["X-API-Key"] = state.key;
    if (options.body) headers["Content-Type"] = "application/json";
    const resp = await fetch(API + path, Object.assign({}, options, { headers }));
    if (!resp.ok) {
      let detail = resp.statusText;
      try {
        const body = await resp.json();
        detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail || body);
      } catch (_) { /* not JSON */ }
      throw new HttpError(resp.status, detail);
    }
    return resp.status === 204 ? null : resp.json();
  }

  async function geo(path) {
    const resp = await fetch(path, { headers: { Accept: "application/geo+json, application/json" } });
    if (!resp.ok) throw new HttpError(resp.status, `${path}: ${resp.status} ${resp.statusText}`);
    return resp.json();
  }

  const itemsOf = (r) => (Array.isArray(r) ? r : r.items || r.data || r.vessels || r.alerts || []);

  async function handleAuth(err) {
    if (err instanceof HttpError && err.status === 401) {
      await askKey(state.key ? "That key was refused (unknown or revoked). Enter another one." : "");
      start();
      return true;
    }
    return false;
  }

  // ---------------------------------------------------------------- small helpers
  function bandOf(score) {
    if (score === null || score === undefined || Number.isNaN(score)) return null;
    for (let i = 0; i < BAND_EDGES.length; i++) if (score <= BAND_EDGES[i]) return BANDS[i];
    return BANDS[BANDS.length - 1];
  }

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, val] of Object.entries(attrs)) {
      if (val === null || val === undefined || val === false) continue;
      if (k === "class") node.className = val;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), val);
      else node.setAttribute(k, val === true ? "" : val);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function parseTime(t) {
    if (!t) return null;
    const d = new Date(typeof t === "number" ? t : /[zZ]|[+-]\d\d:?\d\d$/.test(t) ? t : t + "Z");
    return Number.isNaN(d.getTime()) ? null : d;
  }

  function utc(t) {
    const d = parseTime(t);
    return d ? d.toISOString().replace("T", " ").slice(0, 16) + " UTC" : "—";
  }

  function ago(t) {
    const d = parseTime(t);
    if (!d) return "—";
    const s = (Date.now() - d.getTime()) / 1000;
    if (s < 60) return "just now";
    if (s < 3600) return `${Math.round(s / 60)} min ago`;
    if (s < 86400 * 2) return `${(s / 3600).toFixed(s < 36000 ? 1 : 0)} h ago`;
    return `${Math.round(s / 86400)} d ago`;
  }

  function shipType(code) {
    if (code === null || code === undefined) return "unknown type";
    const hazard = { 1: " (hazard A)", 2: " (hazard B)", 3: " (hazard C)", 4: " (hazard D)" }[code % 10] || "";
    const exact = {
      30: "fishing", 31: "towing", 32: "towing (large)", 33: "dredging", 34: "diving", 35: "military",
      36: "sailing", 37: "pleasure craft", 50: "pilot", 51: "search and rescue", 52: "tug", 53: "port tender",
      54: "anti-pollution", 55: "law enforcement", 58: "medical", 59: "non-combatant",
    }[code];
    if (exact) return `${exact} (${code})`;
    const tens = Math.floor(code / 10);
    const family = { 2: "wing in ground", 4: "high-speed craft", 6: "passenger", 7: "cargo", 8: "tanker", 9: "other" }[tens];
    return family ? `${family}${hazard} (${code})` : `type ${code}`;
  }

  function fmtScore(s) {
    return s === null || s === undefined || Number.isNaN(s) ? "–" : Math.round(s).toString();
  }

  function showMessage(text, isError = false, ms = 6000) {
    const box = $("message");
    box.textContent = text;
    box.className = isError ? "error" : "";
    box.hidden = false;
    clearTimeout(showMessage.timer);
    showMessage.timer = setTimeout(() => { box.hidden = true; }, ms);
  }

  // ---------------------------------------------------------------- the map and its geography
  const map = L.map("map", { zoomSnap: 0.25, minZoom: 3, maxZoom: 15, worldCopyJump: false, preferCanvas: false });
  map.attributionControl.setPrefix("Leaflet");
  map.attributionControl.addAttribution("Land: NOAA GLOBE 30″ land mask · zones: region pack");
  L.control.scale({ imperial: false, position: "bottomright" }).addTo(map);
  for (const [name, z] of [["grid", 240], ["land", 250], ["gridlabels", 260], ["zones", 300], ["track", 390], ["halo", 395]]) {
    map.createPane(name).style.zIndex = z;
  }
  map.getPane("land").style.pointerEvents = "none";
  map.getPane("grid").style.pointerEvents = "none";
  map.getPane("gridlabels").style.pointerEvents = "none";
  map.getPane("halo").style.pointerEvents = "none";
  const vesselLayer = L.layerGroup().addTo(map);
  const fitView = (box) => map.fitBounds([[box[1], box[0]], [box[3], box[2]]], { padding: [8, 8] });
  fitView(FALLBACK_VIEW);

  // A hairline of the fill's own colour hides the seams where the region's box meets the coarse strips around it.
  const landStyle = { pane: "land", color: "#ebe6d8", weight: 1, fillColor: "#ebe6d8", fillOpacity: 1, interactive: false };

  async function drawLand(box) {
    const [w, s, e, n] = box;
    const clampLat = (v) => Math.max(-85, Math.min(85, v));
    const clampLon = (v) => Math.max(-180, Math.min(180, v));
    const c = CONTEXT_DEG;
    // Coarse land around the region first (four strips), then the region's box at GLOBE's own resolution.
    const strips = [
      [clampLon(w - c), clampLat(s - c), w, clampLat(n + c)],
      [e, clampLat(s - c), clampLon(e + c), clampLat(n + c)],
      [w, clampLat(s - c), e, s],
      [w, n, e, clampLat(n + c)],
    ].filter((b) => b[2] > b[0] && b[3] > b[1]);
    const coarse = strips.map((b) => geo(`/map/coastline.geojson?bbox=${b.join(",")}&cells=200`));
    const fine = await geo(`/map/coastline.geojson?bbox=${box.join(",")}`);
    L.geoJSON(fine, { style: () => landStyle }).addTo(map);
    for (const p of coarse) {
      try { L.geoJSON(await p, { style: () => landStyle }).addTo(map); } catch (err) { console.warn(err); }
    }
  }

  function drawGrid(box) {
    const [w, s, e, n] = box;
    const lo = (v) => Math.floor(v) - CONTEXT_DEG;
    const hi = (v) => Math.ceil(v) + CONTEXT_DEG;
    const style = { pane: "grid", color: "#9fb4c3", weight: 0.6, opacity: 0.8, dashArray: "2 4", interactive: false };
    for (let lon = lo(w); lon <= hi(e); lon++) {
      L.polyline([[lo(s), lon], [hi(n), lon]], style).addTo(map);
      if (lon >= Math.ceil(w) && lon <= Math.floor(e)) {
        L.marker([s, lon], {
          pane: "gridlabels", interactive: false,
          icon: L.divIcon({ className: "grid-label", html: `${lon}°E`, iconSize: [40, 14], iconAnchor: [-3, 16] }),
        }).addTo(map);
      }
    }
    for (let lat = lo(s); lat <= hi(n); lat++) {
      L.polyline([[lat, lo(w)], [lat, hi(e)]], style).addTo(map);
      if (lat >= Math.ceil(s) && lat <= Math.floor(n)) {
        L.marker([lat, w], {
          pane: "gridlabels", interactive: false,
          icon: L.divIcon({ className: "grid-label", html: `${lat}°N`, iconSize: [40, 14], iconAnchor: [-3, 15] }),
        }).addTo(map);
      }
    }
  }

  function drawRegion(fc, target = map) {
    L.geoJSON(fc, {
      pane: "zones",
      style: (f) => {
        const p = f.properties || {};
        if (f.geometry && f.geometry.type === "Point") return {};
        if (p.kind === "boundary") return { pane: "zones", color: "#7a3e9d", weight: 2, dashArray: "10 5 2 5", fill: false };
        const z = ZONE_STYLE[p.zone_kind] || { color: "#66727c", dashArray: "4 4" };
        return Object.assign({ pane: "zones", weight: 1.5, fillOpacity: 0.06, fillColor: z.color }, z);
      },
      pointToLayer: (f, latlng) => L.marker(latlng, {
        pane: "zones", keyboard: false,
        icon: L.divIcon({ className: `place ${(f.properties || {}).kind || ""}`, iconSize: [8, 8] }),
      }),
      onEachFeature: (f, layer) => {
        const p = f.properties || {};
        const what = p.kind === "zone" ? `${p.zone_kind} zone` : p.kind;
        layer.bindTooltip(`<b>${escapeHtml(p.name || "")}</b><br>${escapeHtml(what)}`, { className: "zone-tip", sticky: p.kind !== "port" });
      },
    }).addTo(target);
  }

  function escapeHtml(s) {
    return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }

  function addLegend() {
    const legend = L.control({ position: "bottomleft" });
    legend.onAdd = () => {
      const div = L.DomUtil.create("div", "legend");
      div.innerHTML = BANDS.map((b) => `<i style="background:var(--${b})"></i>${b}`).join("<br>")
        + '<br><i class="line" style="background:#7a3e9d"></i>maritime boundary'
        + '<br><i class="line" style="background:#b0182a"></i>restricted zone'
        + '<br><i class="line" style="background:#d2691e"></i>watch zone'
        + '<br><i class="line" style="background:#2a7f96"></i>fishing ground'
        + '<br><i class="line" style="background:#102a43"></i>selected track'
        + '<br><i class="place-key"></i>port'
        + `<br><i class="ring" style="border-color:${WATCHLIST_RING}"></i>on a watchlist`;
      return div;
    };
    legend.addTo(map);
  }

  async function loadGeography() {
    try {
      const region = await geo("/map/region.geojson");
      if (Array.isArray(region.bbox) && region.bbox.length === 4) state.view = region.bbox;
      fitView(state.view);
      drawRegion(region);
    } catch (err) {
      showMessage(`Zones could not be loaded: ${err.message}`, true);
    }
    drawGrid(state.view);
    addLegend();
    try {
      await drawLand(state.view);
    } catch (err) {
      showMessage(`Land could not be loaded: ${err.message}`, true);
    }
  }

  // Zones drawn by analysts through the API (the region pack's own come from /map/region.geojson).
  let storedZones = null;
  async function loadStoredZones() {
    try {
      const fc = await api("/zones");
      if (storedZones) map.removeLayer(storedZones);
      storedZones = (fc.features || []).length ? L.layerGroup().addTo(map) : null;
      if (storedZones) drawRegion(fc, storedZones);
    } catch (err) {
      console.warn("zones:", err);
    }
  }

  // ---------------------------------------------------------------- filters
  function filters() {
    const form = $("filters");
    const bands = [...form.querySelectorAll("input[name=band]:checked")].map((i) => i.value);
    const min = parseFloat(form.elements.min_score.value);
    return {
      bands,
      minScore: Number.isFinite(min) && min > 0 ? min : null,
      kind: form.elements.kind.value,
      status: form.elements.status.value,
      muted: form.elements.muted.value || "false",
    };
  }

  function alertMatches(a, f = filters()) {
    if (f.kind && a.kind !== f.kind) return false;
    if (f.status && (a.status || "new") !== f.status) return false;
    if (f.minScore !== null && (a.score ?? 0) < f.minScore) return false;
    if (f.muted === "false" && a.muted) return false;
    if (f.muted === "true" && !a.muted) return false;
    return true;
  }

  // ---------------------------------------------------------------- vessels
  let vesselsSeq = 0;
  let alertsSeq = 0;

  async function loadVessels() {
    const seq = ++vesselsSeq; // filters change faster than answers come: only the latest request is drawn
    const f = filters();
    const seen = new Set();
    const list = [];
    if (f.bands.length) {
      for (let page = 1; page <= MAX_VESSEL_PAGES; page++) {
        const q = new URLSearchParams({ page: String(page), page_size: String(PAGE_SIZE), sort: "-score" });
        if (f.bands.length < BANDS.length) for (const b of f.bands) q.append("band", b);
        if (f.minScore !== null) q.set("min_score", String(f.minScore));
        const r = await api(`/vessels?${q}`);
        if (seq !== vesselsSeq) return;
        const items = itemsOf(r);
        for (const v of items) if (!seen.has(v.mmsi)) { seen.add(v.mmsi); list.push(v); }
        const total = r.total ?? r.count ?? items.length;
        if (items.length < PAGE_SIZE || list.length >= total) break;
      }
    }
    if (seq === vesselsSeq) drawVessels(list);
  }

  function drawVessels(list) {
    const keep = new Set(list.map((v) => v.mmsi));
    for (const [mmsi, entry] of state.vessels) {
      if (!keep.has(mmsi)) { vesselLayer.removeLayer(entry.marker); state.vessels.delete(mmsi); }
    }
    // lowest score first so that the riskiest vessels are drawn on top
    list.sort((a, b) => (Math.max(a.smuggling_score ?? 0, a.fire_score ?? 0)) - (Math.max(b.smuggling_score ?? 0, b.fire_score ?? 0)));
    for (const v of list) {
      if (v.lat === null || v.lat === undefined || v.lon === null || v.lon === undefined) continue;
      const band = v.band || bandOf(Math.max(v.smuggling_score ?? 0, v.fire_score ?? 0)) || "low";
      const listed = watchlistsOf(v).length > 0;
      const style = {
        radius: BAND_RADIUS[band] || 4, color: listed ? WATCHLIST_RING : "#ffffff", weight: listed ? 3 : 1,
        fillColor: BAND_COLOR[band] || "#8a96a0", fillOpacity: 0.95, className: `vessel band-${band}${listed ? " watchlisted" : ""}`,
      };
      let entry = state.vessels.get(v.mmsi);
      if (entry && (entry.band !== band || entry.listed !== listed)) { vesselLayer.removeLayer(entry.marker); entry = null; }
      if (entry) {
        entry.marker.setLatLng([v.lat, v.lon]);
        entry.marker.setStyle(style);
        entry.v = v;
        entry.marker.bringToFront();
      } else {
        const marker = L.circleMarker([v.lat, v.lon], style);
        marker.on("click", () => selectVessel(v.mmsi, true));
        marker.bindTooltip(() => vesselTip(state.vessels.get(v.mmsi).v), { direction: "top", offset: [0, -4] });
        marker.addTo(vesselLayer);
        marker.getElement()?.setAttribute("data-mmsi", v.mmsi);
        entry = { v, marker, band, listed };
        state.vessels.set(v.mmsi, entry);
      }
    }
    updateCounts();
    if (state.selected !== null) raiseHalo();
  }

  function vesselTip(v) {
    const name = v.name ? escapeHtml(v.name) : "(no name)";
    const listed = watchlistsOf(v).length ? `<br>on watchlist ${escapeHtml(watchlistsOf(v).join(", "))}` : "";
    return `<b>${name}</b> ${v.mmsi}<br>smuggling ${fmtScore(v.smuggling_score)} · fire ${fmtScore(v.fire_score)}${listed}`;
  }

  // the watchlists a vessel matched at its latest scoring (GET /vessels gives their names; null: none)
  function watchlistsOf(v) {
    return Array.isArray(v.watchlists) ? v.watchlists : [];
  }

  function updateCounts() {
    const by = { low: 0, medium: 0, high: 0, critical: 0 };
    for (const { band } of state.vessels.values()) by[band] = (by[band] || 0) + 1;
    $("counts").textContent = `${state.vessels.size} vessels · ${by.critical} critical · ${by.high} high`;
    document.body.dataset.vessels = String(state.vessels.size);
  }

  function scheduleVesselRefresh(ms = 1500) {
    clearTimeout(state.refreshSoon);
    state.refreshSoon = setTimeout(() => refreshVessels(), ms);
  }

  async function refreshVessels() {
    try { await loadVessels(); } catch (err) { if (!(await handleAuth(err))) showMessage(`Vessels: ${err.message}`, true); }
  }

  // ---------------------------------------------------------------- the vessel panel
  // refresh: the open panel follows its vessel's new alerts; it keeps what is on screen while the answer comes, and
  // leaves the panel alone if the analyst opened a dismissal or a mute form meanwhile
  async function selectVessel(mmsi, fromMap = false, refresh = false) {
    state.selected = mmsi;
    const body = $("vessel-body");
    $("vessel").hidden = false;
    if (!refresh) body.replaceChildren(el("p", {}, `Loading ${mmsi}…`));
    let detail;
    let decided = null;
    try {
      [detail, decided] = await Promise.all([api(`/vessels/${mmsi}`), vesselTriage(mmsi)]);
    } catch (err) {
      if (await handleAuth(err)) return;
      body.replaceChildren(el("p", { class: "error" }, err.status === 404 ? `No vessel ${mmsi} in the store.` : err.message));
      return;
    }
    if (state.selected !== mmsi || (refresh && body.querySelector("form"))) return;
    renderVessel(detail, decided);
    drawTrack(mmsi, !fromMap);
    raiseHalo();
  }

  // What analysts decided about the vessel (GET /api/v1/vessels/{mmsi}/triage); the panel goes without it when the
  // API is older than that endpoint.
  async function vesselTriage(mmsi) {
    try {
      return await api(`/vessels/${mmsi}/triage?limit=${TRIAGE_SHOWN}`);
    } catch (err) {
      if (err.status === 401) throw err;
      console.warn("triage history:", err);
      return null;
    }
  }

  // After a decision or a mute, the open vessel panel shows it (its alerts' states, the history, the new scores
  // once the scorer has taken it: a scoring cycle, a few seconds).
  async function refreshVesselPanel(a) {
    const mmsi = state.selected;
    if (mmsi === null || (a.mmsi !== mmsi && a.other_mmsi !== mmsi)) return;
    try {
      const [detail, decided] = await Promise.all([api(`/vessels/${mmsi}`), vesselTriage(mmsi)]);
      if (state.selected === mmsi) renderVessel(detail, decided);
    } catch (err) {
      console.warn("vessel panel:", err);
    }
    scheduleVesselRefresh();
  }

  const STATUS_WORDS = { confirmed: "confirmed", dismissed: "dismissed", escalated: "escalated", new: "reopened" };

  function triageHistory(decided) {
    if (!decided) return [];
    const decisions = decided.decisions || [];
    const mutes = decided.mutes || [];
    const items = decisions.map((d) => el("li", { "data-status": d.status, "data-alert-id": d.alert_id },
      el("span", { class: "when" }, utc(d.at)), " ",
      el("b", {}, d.by), ` ${STATUS_WORDS[d.status] || d.status} ${KIND_NAMES[d.kind] || d.kind}`,
      d.other_mmsi ? ` (${d.mmsi} & ${d.other_mmsi})` : "",
      d.reason ? `: ${DISMISSAL_REASONS[d.reason] || d.reason}` : "",
      d.note ? el("span", { class: "note" }, ` — ${d.note}`) : ""));
    const muteItems = mutes.map((m) => el("li", { class: `mute ${m.state}`, "data-mute-id": m.id, "data-state": m.state },
      el("span", { class: "when" }, utc(m.created_at)), " ",
      el("b", {}, m.by), ` muted ${m.kind ? KIND_NAMES[m.kind] || m.kind : "every kind"}`,
      m.pattern === "pair" ? ` with ${m.mmsi === decided.mmsi ? m.other_mmsi : m.mmsi}` : "",
      m.state === "in_force" ? ` until ${utc(m.expires_at)}` : ` (${m.state.replace("_", " ")})`,
      `: ${m.reason}`));
    return [
      el("div", { class: "reasons-title" }, decisions.length || mutes.length
        ? `Triage history (${decisions.length} decision${decisions.length === 1 ? "" : "s"}${mutes.length ? `, ${mutes.length} mute${mutes.length === 1 ? "" : "s"}` : ""})`
        : "Triage history: nothing decided yet"),
      decisions.length || mutes.length ? el("ul", { id: "vessel-triage", class: "vessel-triage" }, ...muteItems, ...items) : null,
    ];
  }

  function vesselAlert(a) {
    const band = bandOf(a.score) || "low";
    const dim = `${a.muted ? " muted" : ""}${a.below_bar ? " below-bar" : ""}`;
    const li = el("li", { class: `vessel-alert${dim}`, "data-alert-id": a.alert_id, "data-kind": a.kind, tabindex: "0" },
      el("div", { class: "head" },
        el("span", { class: `badge bg-${band}`, title: "evidence score" }, fmtScore(a.score)),
        el("b", {}, KIND_NAMES[a.kind] || a.kind),
        el("span", { class: "status" }, a.status || "new"),
        ...alertTags(a),
        el("span", { class: "when", title: `${utc(a.start)} – ${utc(a.end)}` }, ago(a.start))),
      el("div", { class: "why" }, (a.reasons || [])[0] || ""),
      triageBox(a));
    // a click opens the alert's actions here, as in the alert list
    li.addEventListener("click", () => {
      for (const other of document.querySelectorAll("#vessel-body li.vessel-alert.open")) if (other !== li) other.classList.remove("open");
      li.classList.add("open");
    });
    return li;
  }

  function renderVessel(detail, decided = null) {
    const v = detail.vessel || detail;
    const alerts = Array.isArray(detail.alerts) ? detail.alerts : detail.recent_alerts || [];
    const smug = v.smuggling_score ?? detail.scores?.smuggling?.score;
    const fire = v.fire_score ?? detail.scores?.fire?.score;
    const smugBand = v.smuggling_band || bandOf(smug) || "none";
    const fireBand = v.fire_band || bandOf(fire) || "none";
    const smugReasons = v.smuggling_reasons || detail.scores?.smuggling?.reasons || [];
    const fireReasons = v.fire_reasons || detail.scores?.fire?.reasons || [];
    const allReasons = !smugReasons.length && !fireReasons.length ? v.reasons || [] : [];
    const reasonList = (title, items) => items.length
      ? [el("div", { class: "reasons-title" }, title), el("ul", { class: "reasons" }, items.map((r) => el("li", {}, r)))]
      : [];
    const rows = [
      ["MMSI", v.mmsi], ["flag", v.flag || "—"], ["type", shipType(v.ship_type)], ["call sign", v.callsign || "—"],
      ["IMO", v.imo || "—"],
      ["last seen", v.last_seen ? `${ago(v.last_seen)} · ${utc(v.last_seen)}` : "—"],
      ["position", v.lat !== null && v.lat !== undefined ? `${(+v.lat).toFixed(4)}° N, ${(+v.lon).toFixed(4)}° E` : "—"],
    ];
    $("vessel-body").replaceChildren(...[
      el("h3", {}, v.name || "(no name broadcast)"),
      el("div", { class: "ident" }, `${shipType(v.ship_type)}${v.flag ? " · " + v.flag : ""}`,
        " · ", el("a", { href: "#", id: "vessel-dossier", class: "dossier", title: "Save its evidence dossier: one HTML file that opens offline and prints",
          onclick: (ev) => { ev.preventDefault(); saveDossier(v.mmsi, ev.currentTarget); } }, "Dossier")),
      watchlistsOf(v).length ? el("div", { class: "watchlist-line", style: `color:${WATCHLIST_RING}` },
        `On watchlist: ${watchlistsOf(v).join(", ")} (the reason is in "Why, smuggling")`) : null,
      el("div", { class: "scores" },
        el("div", { class: `score bg-${smugBand}`, "data-score": "smuggling" }, el("b", {}, fmtScore(smug)), el("span", {}, `smuggling · ${smugBand}`)),
        el("div", { class: `score bg-${fireBand}`, "data-score": "fire" }, el("b", {}, fmtScore(fire)), el("span", {}, `fire · ${fireBand}`))),
      reasonList("Why, smuggling", smugReasons),
      reasonList("Why, fire", fireReasons),
      reasonList("Why", allReasons),
      (smugReasons.length + fireReasons.length + allReasons.length) === 0 ? el("p", { class: "reasons" }, "No risk evidence so far.") : null,
      el("dl", {}, rows.flatMap(([k, val]) => [el("dt", {}, k), el("dd", {}, String(val))])),
      alerts.length ? el("div", { class: "reasons-title" }, `Recent alerts (${alerts.length})`) : null,
      alerts.length ? el("ul", { class: "vessel-alerts" }, alerts.slice(0, VESSEL_ALERTS_SHOWN).map(vesselAlert)) : null,
      triageHistory(decided),
    ].flat().filter(Boolean));
    for (const hook of hooks.vessel) hook(v, $("vessel-body")); // reach.js: where it can be now
  }

  // The vessel's evidence dossier (GET /api/v1/vessels/{mmsi}/dossier), fetched with the key (a plain link would
  // not carry it) and saved as one HTML file that opens offline and prints.
  async function saveDossier(mmsi, link) {
    link.textContent = "Dossier…";
    try {
      const resp = await fetch(`${API}/vessels/${mmsi}/dossier?format=html`, { headers: state.key ? { "X-API-Key": state.key } : {} });
      if (!resp.ok) throw new HttpError(resp.status, `${resp.status} ${resp.statusText}`);
      const url = URL.createObjectURL(await resp.blob());
      const save = el("a", { href: url, download: `dossier-${mmsi}.html`, hidden: true });
      document.body.append(save);
      save.click();
      save.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
    } catch (err) {
      if (await handleAuth(err)) return;
      showMessage(`Dossier of ${mmsi}: ${err.message}`, true);
    } finally {
      link.textContent = "Dossier";
    }
  }

  async function drawTrack(mmsi, fit) {
    if (state.trackLayer) { map.removeLayer(state.trackLayer); state.trackLayer = null; }
    let track;
    try {
      track = await api(`/vessels/${mmsi}/track`);
    } catch (err) {
      if (err.status !== 404) showMessage(`Track of ${mmsi}: ${err.message}`, true);
      return;
    }
    if (state.selected !== mmsi || !track) return;
    const layer = L.geoJSON(track, {
      pane: "track",
      style: { pane: "track", color: "#102a43", weight: 3, opacity: 0.85, className: "track" },
      pointToLayer: (_f, latlng) => L.circleMarker(latlng, { pane: "track", radius: 2, color: "#102a43", weight: 1, fillOpacity: 1 }),
    });
    state.trackLayer = layer.addTo(map);
    const bounds = layer.getBounds();
    if (fit && bounds.isValid()) map.fitBounds(bounds.pad(0.3), { maxZoom: 11 });
  }

  function raiseHalo() {
    if (state.halo) { map.removeLayer(state.halo); state.halo = null; }
    const entry = state.vessels.get(state.selected);
    if (!entry) return;
    state.halo = L.circleMarker(entry.marker.getLatLng(), {
      pane: "halo", radius: (BAND_RADIUS[entry.band] || 4) + 5, color: "#0c2233", weight: 2, fill: false, interactive: false,
    }).addTo(map);
  }

  function closeVessel() {
    state.selected = null;
    for (const hook of hooks.close) hook();
    $("vessel").hidden = true;
    if (state.trackLayer) { map.removeLayer(state.trackLayer); state.trackLayer = null; }
    if (state.halo) { map.removeLayer(state.halo); state.halo = null; }
  }

  // ---------------------------------------------------------------- alerts
  async function loadAlerts(more = false) {
    const seq = ++alertsSeq;
    const f = filters();
    const q = new URLSearchParams({ page_size: String(ALERT_PAGE) });
    if (f.kind) q.set("kind", f.kind);
    if (f.status) q.set("status", f.status);
    if (f.minScore !== null) q.set("min_score", String(f.minScore));
    q.set("muted", f.muted);
    if (more && state.alertCursor) q.set("cursor", state.alertCursor);
    const r = await api(`/alerts?${q}`);
    if (seq !== alertsSeq) return;
    if (!more) {
      state.alerts.clear();
      $("alert-list").replaceChildren();
    }
    for (const a of itemsOf(r)) upsertAlert(a, false, true);
    state.alertCursor = r.next_cursor ?? r.cursor ?? r.next ?? null;
    $("alerts-more").hidden = !state.alertCursor;
    noteAlerts();
  }

  function noteAlerts() {
    $("alerts-note").textContent = `${state.alerts.size} shown`;
    document.body.dataset.alerts = String(state.alerts.size);
  }

  function alertItem(a) {
    const band = bandOf(a.score) || "low";
    const vessel = state.vessels.get(a.mmsi)?.v;
    const who = vessel?.name ? `${vessel.name} (${a.mmsi})` : String(a.mmsi);
    const other = a.other_mmsi ? ` & ${a.other_mmsi}` : "";
    const dim = `${a.muted ? " muted" : ""}${a.below_bar ? " below-bar" : ""}`;
    const li = el("li", { class: `alert ${band}${dim}`, "data-alert-id": a.alert_id, "data-kind": a.kind, tabindex: "0" },
      el("div", { class: "head" },
        el("span", { class: `badge bg-${band}`, title: "evidence score" }, fmtScore(a.score)),
        el("span", { class: "kind" }, KIND_NAMES[a.kind] || a.kind),
        el("span", { class: "status" }, a.status || "new"),
        ...alertTags(a),
        el("span", { class: "when", title: `${utc(a.start)} – ${utc(a.end)}` }, ago(a.start))),
      el("div", { class: "who" }, who + other),
      el("div", { class: "why" }, (a.reasons || []).join("; ")),
      triageBox(a));
    li.addEventListener("click", () => selectAlert(a.alert_id));
    li.addEventListener("keydown", (ev) => { if (ev.key === "Enter") selectAlert(a.alert_id); });
    if (state.selectedAlert === a.alert_id) li.classList.add("selected");
    return li;
  }

  // What takes an alert out of the scores while it stays listed: a mute in force, or a raised bar of its kind or zone
  // (the analysts dismissed most of its kind there: GET /api/v1/quality).
  function alertTags(a) {
    return [
      a.muted ? el("span", { class: "muted-tag", title: `mute ${a.mute_id}: out of the scores until it ends` }, "muted") : null,
      a.below_bar ? el("span", { class: "muted-tag bar-tag", title: `under the raised bar: ${a.raised_bar?.said || ""}` }, "below bar") : null,
    ];
  }

  // Confirm, escalate, dismiss (with a reason) and mute: the same on an alert of the list and of the vessel panel.
  function triageBox(a) {
    return el("div", { class: "triage" },
      ["confirmed", "escalated", "dismissed"].map((s) => el("button", {
        type: "button", "data-status": s, disabled: a.status === s,
        onclick: (ev) => {
          ev.stopPropagation();
          if (s === "dismissed") askReason(ev.target.closest(".triage"), a.alert_id);
          else triage(a.alert_id, s);
        },
      }, { confirmed: "confirm", escalated: "escalate", dismissed: "dismiss" }[s])),
      el("button", {
        type: "button", class: "mute", disabled: !!a.muted, title: "mute this vessel's alerts of this kind",
        onclick: (ev) => { ev.stopPropagation(); askMute(ev.target.closest(".triage"), a); },
      }, "mute"));
  }

  // Insert or update an alert in the list (newest start first); `live` marks it as just arrived.
  function upsertAlert(a, live, append = false) {
    const old = state.alerts.get(a.alert_id);
    if (!alertMatches(a)) {
      if (old) { old.el.remove(); state.alerts.delete(a.alert_id); }
      return;
    }
    const li = alertItem(a);
    // a muted alert, or one under a raised bar, notifies nobody: it only shows, dimmed
    if (live && !a.muted && !a.below_bar) li.classList.add("fresh");
    if (old) {
      old.el.replaceWith(li);
    } else if (append) {
      $("alert-list").append(li);
    } else {
      const t = parseTime(a.start)?.getTime() ?? 0;
      const next = [...state.alerts.values()].find((o) => (parseTime(o.a.start)?.getTime() ?? 0) <= t);
      $("alert-list").insertBefore(li, next ? next.el : $("alert-list").firstChild);
    }
    state.alerts.set(a.alert_id, { a, el: li });
  }

  function removeAlert(id) {
    const old = state.alerts.get(id);
    if (old) { old.el.remove(); state.alerts.delete(id); }
  }

  function selectAlert(id) {
    const entry = state.alerts.get(id);
    if (!entry) return;
    for (const { el: li } of state.alerts.values()) li.classList.remove("selected");
    entry.el.classList.add("selected");
    state.selectedAlert = id;
    const a = entry.a;
    if (a.lat !== null && a.lat !== undefined) map.panTo([a.lat, a.lon]);
    selectVessel(a.mmsi);
  }

  // A dismissal says why (the API refuses one without a reason code): the reasons are what the scores and the
  // per-kind quality are learned from, so the analyst picks one, with a note if it helps.
  const DISMISSAL_REASONS = {
    legitimate_activity: "legitimate activity",
    reception_problem: "reception problem",
    data_error: "data error",
    duplicate: "duplicate",
    other: "other",
  };

  function askReason(box, id) {
    if (box.querySelector("form.dismiss")) return;
    const reason = el("select", { name: "reason", required: "", "aria-label": "why dismiss" },
      el("option", { value: "" }, "why?"),
      ...Object.entries(DISMISSAL_REASONS).map(([code, words]) => el("option", { value: code }, words)));
    const note = el("input", { name: "note", type: "text", placeholder: "note (optional)", maxlength: "2000" });
    const form = el("form", { class: "dismiss" }, reason, note,
      el("button", { type: "submit" }, "dismiss"),
      el("button", { type: "button", class: "cancel", onclick: (ev) => { ev.stopPropagation(); form.remove(); } }, "cancel"));
    form.addEventListener("click", (ev) => ev.stopPropagation());
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (!reason.value) { reason.focus(); return; }
      triage(id, "dismissed", reason.value, note.value.trim());
    });
    box.append(form);
    reason.focus();
  }

  // A mute takes this vessel's alerts of this kind out of the scores and of the list until it expires (a week by
  // default, at most 90 days: the API's bound); the analyst says why, which the scores' reasons show.
  const MUTE_DAYS = 7;

  function askMute(box, a) {
    if (box.querySelector("form.mute")) return;
    const reason = el("input", { name: "reason", type: "text", required: "", maxlength: "500",
      placeholder: "why mute? (e.g. legitimate bunkering barge)", "aria-label": "why mute" });
    const days = el("input", { name: "days", type: "number", min: "1", max: "90", step: "1", value: String(MUTE_DAYS),
      "aria-label": "days", title: "days until the mute ends by itself" });
    const what = `${KIND_NAMES[a.kind] || a.kind} of ${a.mmsi}`;
    const form = el("form", { class: "mute", title: `mute ${what}` }, reason, days, el("span", {}, "days"),
      el("button", { type: "submit" }, "mute"),
      el("button", { type: "button", class: "cancel", onclick: (ev) => { ev.stopPropagation(); form.remove(); } }, "cancel"));
    form.addEventListener("click", (ev) => ev.stopPropagation());
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (!reason.value.trim()) { reason.focus(); return; }
      const n = Math.min(90, Math.max(1, parseInt(days.value, 10) || MUTE_DAYS));
      mute(a, reason.value.trim(), n);
    });
    box.append(form);
    reason.focus();
  }

  async function mute(a, reason, days) {
    const expires = new Date(Date.now() + days * 86400000 - 60000); // a minute short of the bound, for the clocks
    const body = { pattern: "vessel", kind: a.kind, mmsi: a.mmsi, reason, expires_at: expires.toISOString() };
    try {
      const m = await api("/mutes", { method: "POST", body: JSON.stringify(body) });
      showMessage(`Muted ${KIND_NAMES[a.kind] || a.kind} alerts of ${a.mmsi} until ${utc(m.expires_at)}.`);
      await loadAlerts(); // its alerts leave the list, or show dimmed
      refreshVesselPanel(a);
    } catch (err) {
      if (await handleAuth(err)) return;
      showMessage(err.status === 403 ? "Your key may only view: muting needs an analyst key." : `Mute failed: ${err.message}`, true);
    }
  }

  async function triage(id, status, reason = null, note = "") {
    const body = { status };
    if (reason) body.reason = reason;
    if (note) body.note = note;
    try {
      const updated = await api(`/alerts/${encodeURIComponent(id)}`, { method: "PATCH", body: JSON.stringify(body) });
      if (updated && updated.alert_id) {
        upsertAlert(updated, false);
        refreshVesselPanel(updated);
      }
      showMessage(`Alert marked ${status}.`);
    } catch (err) {
      if (await handleAuth(err)) return;
      showMessage(err.status === 403 ? "Your key may only view: triage needs an analyst key." : `Triage failed: ${err.message}`, true);
    }
    noteAlerts();
  }

  // ---------------------------------------------------------------- the live stream (SSE over fetch: it carries the key)
  function setLive(on, text) {
    $("live").className = on ? "on" : "off";
    $("live").textContent = text;
    document.body.dataset.live = on ? "1" : "0";
  }

  async function follow() {
    if (state.stream) state.stream.abort();
    const ctrl = new AbortController();
    state.stream = ctrl;
    let delay = 1000;
    while (!ctrl.signal.aborted) {
      try {
        const headers = { Accept: "text/event-stream", "X-API-Key": state.key || "" };
        if (state.streamId) headers["Last-Event-ID"] = state.streamId;
        const resp = await fetch(`${API}/alerts/stream`, { headers, signal: ctrl.signal, cache: "no-store" });
        if (resp.status === 401) { setLive(false, "no key"); await handleAuth(new HttpError(401, "")); return; }
        if (!resp.ok || !resp.body) throw new HttpError(resp.status, resp.statusText);
        setLive(true, "live");
        delay = 1000;
        await readEvents(resp.body, ctrl.signal);
      } catch (err) {
        if (ctrl.signal.aborted) return;
        console.warn("alert stream:", err);
      }
      if (ctrl.signal.aborted) return;
      setLive(false, "reconnecting");
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 30000);
    }
  }

  async function readEvents(body, signal) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let ev = { event: "message", data: [], id: null };
    while (!signal.aborted) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let nl;
      while ((nl = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + (buffer.startsWith("\r\n", nl) ? 2 : 1));
        if (line === "") {
          if (ev.data.length) dispatch(ev.event, ev.data.join("\n"));
          if (ev.id !== null) state.streamId = ev.id;
          ev = { event: "message", data: [], id: null };
          continue;
        }
        if (line.startsWith(":")) continue; // keep-alive comment
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let val = colon < 0 ? "" : line.slice(colon + 1);
        if (val.startsWith(" ")) val = val.slice(1);
        if (field === "data") ev.data.push(val);
        else if (field === "event") ev.event = val;
        else if (field === "id") ev.id = val;
      }
    }
  }

  function dispatch(event, data) {
    let payload;
    try { payload = JSON.parse(data); } catch (_) { return; }
    if (event === "withdrawn") { // an early distress alert that later evidence proved wrong
      removeAlert(payload.alert_id);
      noteAlerts();
      return;
    }
    if (event === "watchlist") { // a listed vessel first matched: say so, and draw its mark with the vessels
      showMessage(`Watchlist '${payload.watchlist}': MMSI ${payload.mmsi} heard (${payload.detail})`);
      scheduleVesselRefresh();
      return;
    }
    const list = Array.isArray(payload) ? payload : payload.alerts || [payload.alert || payload];
    for (const a of list) {
      if (!a || !a.alert_id) continue;
      upsertAlert(a, true);
      // the open panel follows its vessel's alerts, unless the analyst is typing a dismissal or a mute there
      if ((a.mmsi === state.selected || a.other_mmsi === state.selected) && !$("vessel-body").querySelector("form")) {
        selectVessel(state.selected, true, true);
      }
    }
    noteAlerts();
    scheduleVesselRefresh(); // the scores that an alert moves are refreshed with the vessels
  }

  // ---------------------------------------------------------------- receiving stations
  // A station's outage silences every vessel only it hears: shown here so that an analyst reads those silences as
  // reception, as the engine does (GET /api/v1/stations; an API without an engine lists none and the panel hides).
  async function loadStations() {
    const r = await api("/stations");
    const list = r.stations || [];
    $("stations").hidden = list.length === 0;
    const down = list.filter((s) => s.down).length;
    $("stations-note").textContent = down ? `${down} down` : `${list.length} up`;
    $("station-list").replaceChildren(...list.map(stationItem));
    document.body.dataset.stations = String(list.length);
  }

  function stationItem(s) {
    const usual = s.usual_per_10min === null ? "learning" : `usual ${Math.round(s.usual_per_10min)}`;
    const since = s.down && s.outages.length ? ` since ${utc(s.outages[s.outages.length - 1].start).slice(11)}` : "";
    const li = el("li", { class: s.down ? "down" : "up", "data-station": s.station },
      el("span", { class: "name" }, s.station),
      el("span", { class: "state" }, s.down ? `down${since}` : "up"),
      el("span", { class: "rate", title: "messages per 10 min: latest / usual" },
        `${s.current_per_10min} / 10 min (${usual})`));
    li.title = `${s.outages_24h} outage(s) in the last 24 h of data`;
    return li;
  }

  // ---------------------------------------------------------------- triage quality
  // How often analysts agreed with each detector (GET /api/v1/quality): a kind with a raised bar counts in the
  // scores only from that score up, and says so.
  async function loadQuality() {
    const q = await api("/quality");
    const kinds = (q.kinds || []).filter((k) => k.confirmed + k.dismissed + k.escalated > 0);
    $("quality").hidden = kinds.length === 0;
    const raised = kinds.filter((k) => k.raised_bar).length;
    $("quality-note").textContent = `last ${q.days} days` + (raised ? `, ${raised} raised bar(s)` : "");
    $("quality-list").replaceChildren(...kinds.map(qualityItem));
    document.body.dataset.quality = String(kinds.length);
  }

  function qualityItem(k) {
    const precision = k.precision === null ? "–" : `${Math.round(100 * k.precision)}%`;
    const li = el("li", { class: k.raised_bar ? "raised" : "", "data-kind": k.kind },
      el("span", { class: "name" }, k.kind.replace(/_/g, " ")),
      el("span", { class: "precision", title: "confirmed / (confirmed + dismissed)" }, precision),
      k.raised_bar ? el("span", { class: "bar", title: k.raised_bar.said }, `bar ${k.raised_bar.threshold}`) : "",
      el("span", { class: "counts" },
        `${k.confirmed} confirmed, ${k.dismissed} dismissed, ${k.escalated} escalated, ${k.undecided} open`));
    li.title = k.raised_bar ? k.raised_bar.said : `${k.kind}: precision ${precision}`;
    return li;
  }

  // ---------------------------------------------------------------- start
  async function start() {
    takeKeyFromUrl(); // no key: try without one (a demo lets viewers in); a 401 then asks for a key
    clearInterval(state.vesselTimer);
    try {
      await loadVessels();
      await loadAlerts();
    } catch (err) {
      if (await handleAuth(err)) return;
      showMessage(`Could not load: ${err.message}`, true);
    }
    state.vesselTimer = setInterval(refreshVessels, VESSEL_REFRESH_MS);
    clearInterval(state.stationTimer);
    const stations = () => loadStations().catch((err) => showMessage(`Stations: ${err.message}`, true));
    stations();
    state.stationTimer = setInterval(stations, STATION_REFRESH_MS);
    clearInterval(state.qualityTimer);
    const quality = () => loadQuality().catch((err) => showMessage(`Triage quality: ${err.message}`, true));
    quality();
    state.qualityTimer = setInterval(quality, QUALITY_REFRESH_MS);
    follow();
    loadStoredZones();
    document.body.dataset.ready = "1";
  }

  $("filters").addEventListener("change", async () => {
    try {
      await Promise.all([loadVessels(), loadAlerts()]);
    } catch (err) {
      if (!(await handleAuth(err))) showMessage(err.message, true);
    }
  });
  $("filters").addEventListener("submit", (ev) => ev.preventDefault());
  $("alerts-more").addEventListener("click", () => loadAlerts(true).catch((err) => showMessage(err.message, true)));
  $("vessel-close").addEventListener("click", closeVessel);
  $("change-key").addEventListener("click", async () => { await askKey(""); start(); });
  document.addEventListener("keydown", (ev) => { if (ev.key === "Escape" && !$("key-dialog").open) closeVessel(); });

  // for the end-to-end test, the curious analyst's console, and the page's other scripts (reach.js)
  window.seawatch = { state, map, hooks, api, el, utc, ago, fmtScore, bandOf, selectVessel, showMessage, handleAuth };
  loadGeography();
  start();
})();
