// Seawatch map page, issue 17: where a vessel can be now, and what a patrol can intercept.
// - In the vessel panel, "Where can it be now": the sea it can have reached H hours after its last fix
//   (GET /api/v1/vessels/{mmsi}/reach?hours=H, GeoJSON), drawn with its legend (the speed used and why, the last fix).
// - The patrol box: a base (a click on the map, or LAT,LON typed), a speed and hours -> the high and critical vessels
//   it can meet (GET /api/v1/intercept), earliest first; each selects its vessel; the base and meeting points drawn.
// Runs after app.js, through window.seawatch (its helpers and hooks); nothing here leaves this origin.
"use strict";

(() => {
  const sw = window.seawatch;
  if (!sw) return; // app.js stopped early (no map library) and said why
  const { map, api, el, utc, ago, fmtScore, bandOf, selectVessel, showMessage, handleAuth, state } = sw;
  const $ = (id) => document.getElementById(id);
  const REACH_HOURS = [1, 3, 6, 12]; // the choices; the API's own default (SEAWATCH_REACH_HOURS) is one of them
  const REACH_MAX_HOURS = 48; // api/routes/reach.py MAX_REACH_HOURS
  const REACH_STYLE = { pane: "reach", color: "#1f5f8b", weight: 1.5, fillColor: "#3d8bc4", fillOpacity: 0.18, className: "reach", interactive: false };
  const MEET_COLOR = "#6a1b9a";

  map.createPane("reach").style.zIndex = 380; // under the track (390) and the vessels (overlay pane, 400)
  map.getPane("reach").style.pointerEvents = "none";
  map.createPane("patrol").style.zIndex = 396; // over the halo, under the vessels: a vessel stays clickable
  map.getPane("patrol").style.pointerEvents = "none";

  const reach = { layer: null, mmsi: null, hours: null, props: null, legend: null };
  const patrol = { layer: null, picking: false, items: [] };

  // ---------------------------------------------------------------- where it can be now
  function hoursSince(t) {
    const d = t ? new Date(t) : null;
    return d && !Number.isNaN(d.getTime()) ? (Date.now() - d.getTime()) / 3.6e6 : null;
  }

  function reachBox(v, body) {
    const since = hoursSince(v.last_seen);
    const now = since !== null && since > 0.05 && since <= REACH_MAX_HOURS ? Math.ceil(since * 10) / 10 : null;
    const choice = (h, label) => el("button", {
      type: "button", "data-hours": h, "aria-pressed": reach.mmsi === v.mmsi && reach.hours === h ? "true" : "false",
      title: `the sea it can have reached ${h} h after its last fix`, onclick: () => drawReach(v.mmsi, h),
    }, label);
    const box = el("div", { id: "vessel-reach", class: "reach-box" },
      el("div", { class: "reasons-title" }, "Where can it be now"),
      el("div", { class: "reach-hours", role: "group", "aria-label": "Hours after its last fix" },
        REACH_HOURS.map((h) => choice(h, `${h} h`)),
        now !== null && !REACH_HOURS.includes(now) ? choice(now, `now (${now} h)`) : null,
        el("button", { type: "button", class: "reach-clear", hidden: reach.mmsi !== v.mmsi, onclick: clearReach }, "clear")),
      el("p", { class: "reach-legend", "aria-live": "polite" }, reach.mmsi === v.mmsi && reach.props ? legendWords(reach.props) : ""));
    const facts = body.querySelector(":scope > dl"); // under its identity and position, above its alerts
    if (facts) facts.after(box); else body.append(box);
  }

  function legendWords(p) {
    return `${p.hours} h after its last fix (${utc(p.last_fix_t)}, ${ago(p.last_fix_t)}), at ${p.speed_kn} kn: ${p.speed_why}. `
      + `Up to ${Math.round(p.radius_km)} km by sea round the land; ${Math.round(p.area_km2).toLocaleString("en")} km² of water.`;
  }

  async function drawReach(mmsi, hours) {
    const legend = $("vessel-reach") && $("vessel-reach").querySelector(".reach-legend");
    if (legend) legend.textContent = `Drawing the reach of ${hours} h…`;
    let fc;
    try {
      fc = await api(`/vessels/${mmsi}/reach?hours=${hours}`);
    } catch (err) {
      if (await handleAuth(err)) return;
      if (legend) legend.textContent = "";
      showMessage(`Reach of ${mmsi}: ${err.message}`, true);
      return;
    }
    if (state.selected !== mmsi) return;
    removeReach();
    const area = fc.features.find((f) => (f.properties || {}).kind === "reach");
    const fix = fc.features.find((f) => (f.properties || {}).kind === "last_fix");
    const lon0 = fix ? fix.geometry.coordinates[0] : 0;
    reach.layer = L.geoJSON(fc, {
      pane: "reach",
      // a reach across the antimeridian comes cut there (RFC 7946): its pieces drawn side by side again, by the fix
      coordsToLatLng: (c) => L.latLng(c[1], c[0] + 360 * Math.round((lon0 - c[0]) / 360)),
      style: (f) => (f.geometry.type === "Point" ? {} : REACH_STYLE), // a style's className would also rename the fix
      pointToLayer: (_f, latlng) => L.circleMarker(latlng, { pane: "reach", radius: 5, color: "#1f5f8b", weight: 2, fillColor: "#fff", fillOpacity: 1, className: "reach-fix", interactive: false }),
    }).addTo(map);
    Object.assign(reach, { mmsi, hours, props: area ? area.properties : null });
    showLegend();
    const box = $("vessel-reach");
    if (box) {
      for (const b of box.querySelectorAll("button[data-hours]")) b.setAttribute("aria-pressed", String(+b.dataset.hours === hours));
      box.querySelector(".reach-clear").hidden = false;
      box.querySelector(".reach-legend").textContent = reach.props ? legendWords(reach.props) : "";
    }
    const bounds = reach.layer.getBounds();
    if (bounds.isValid()) map.fitBounds(bounds.pad(0.1), { maxZoom: 11 });
  }

  // the map's key to the drawn reach: whose, how many hours after which fix, at what speed
  function showLegend() {
    if (reach.legend) reach.legend.remove();
    const p = reach.props;
    if (!p) return;
    reach.legend = L.control({ position: "bottomleft" });
    reach.legend.onAdd = () => {
      const div = L.DomUtil.create("div", "legend reach-key");
      div.append(el("i", { class: "reach-swatch" }),
        `reach of ${p.mmsi}: ${p.hours} h after its last fix (${ago(p.last_fix_t)}) at ${p.speed_kn} kn`);
      return div;
    };
    reach.legend.addTo(map);
  }

  function removeReach() {
    if (reach.layer) map.removeLayer(reach.layer);
    if (reach.legend) reach.legend.remove();
    Object.assign(reach, { layer: null, mmsi: null, hours: null, props: null, legend: null });
  }

  function clearReach() {
    removeReach();
    const box = $("vessel-reach");
    if (!box) return;
    for (const b of box.querySelectorAll("button[data-hours]")) b.setAttribute("aria-pressed", "false");
    box.querySelector(".reach-clear").hidden = true;
    box.querySelector(".reach-legend").textContent = "";
  }

  sw.hooks.vessel.push((v, body) => {
    if (reach.mmsi !== null && reach.mmsi !== v.mmsi) removeReach(); // another vessel: its reach is not this one's
    reachBox(v, body);
  });
  sw.hooks.close.push(removeReach);

  // ---------------------------------------------------------------- a patrol's intercepts
  function parseBase(text) {
    const m = /^\s*(-?\d+(?:\.\d+)?)\s*[,\s]\s*(-?\d+(?:\.\d+)?)\s*$/.exec(text || "");
    if (!m) return null;
    const lat = +m[1], lon = +m[2];
    return lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180 ? [lat, lon] : null;
  }

  function setPicking(on) {
    patrol.picking = on;
    $("patrol-pick").setAttribute("aria-pressed", String(on));
    $("patrol-pick").textContent = on ? "click the map…" : "pick on map";
    map.getContainer().classList.toggle("picking", on);
  }

  map.on("click", (ev) => {
    if (!patrol.picking) return;
    setPicking(false);
    const lon = ((ev.latlng.lng + 180) % 360 + 360) % 360 - 180;
    $("patrol-base").value = `${ev.latlng.lat.toFixed(4)},${lon.toFixed(4)}`;
    findIntercepts();
  });

  async function findIntercepts() {
    const form = $("patrol-form");
    const base = parseBase(form.base.value);
    if (!base) {
      $("patrol-note").textContent = "give the base as LAT,LON (e.g. 20.85,106.7) or pick it on the map";
      form.base.focus();
      return;
    }
    const q = new URLSearchParams({ from: `${base[0]},${base[1]}` });
    if (form.speed_kn.value) q.set("speed_kn", form.speed_kn.value); // empty: the service's default
    if (form.within_h.value) q.set("within_h", form.within_h.value);
    $("patrol-note").textContent = "searching…";
    let body;
    try {
      body = await api(`/intercept?${q}`);
    } catch (err) {
      if (await handleAuth(err)) return;
      $("patrol-note").textContent = "";
      showMessage(`Intercept: ${err.message}`, true);
      return;
    }
    form.speed_kn.value = body.speed_kn;
    form.within_h.value = body.within_h;
    patrol.items = body.items;
    drawPatrol(body);
    listIntercepts(body);
  }

  function listIntercepts(body) {
    const n = body.items.length;
    $("patrol-note").textContent = `${n} to meet within ${body.within_h} h at ${body.speed_kn} kn`
      + (body.out_of_reach ? `; ${body.out_of_reach} out of reach` : "");
    $("patrol-list").replaceChildren(...body.items.map((t) => {
      const band = t.band || bandOf(t.score) || "low";
      const li = el("li", { class: `intercept ${band}`, "data-mmsi": t.mmsi, tabindex: "0", role: "button", title: t.why },
        el("span", { class: `badge bg-${band}`, title: "risk score" }, fmtScore(t.score)), " ",
        el("b", {}, t.name || "(no name)"), ` ${t.mmsi}`,
        el("div", { class: "meet" }, `meet in ${t.meet_hours.toFixed(1)} h, ${utc(t.meet_at)} · ${Math.round(t.patrol_km)} km run`,
          t.model === "reach" ? " · by its reach" : " · on its course",
          t.crosses_land ? el("span", { class: "land-tag", title: "the straight run crosses land: go round" }, " crosses land") : null));
      const pick = () => selectVessel(t.mmsi);
      li.addEventListener("click", pick);
      li.addEventListener("keydown", (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); pick(); } });
      return li;
    }));
    if (!n) $("patrol-list").append(el("li", { class: "none" }, "No high or critical vessel within reach."));
  }

  function drawPatrol(body) {
    if (patrol.layer) map.removeLayer(patrol.layer);
    const base = [body.start_lat, body.start_lon];
    const layer = L.layerGroup();
    for (const t of body.items) {
      const meet = [t.meet_lat, t.meet_lon];
      L.polyline([base, meet], { pane: "patrol", color: MEET_COLOR, weight: 1.5, dashArray: "5 4", className: "patrol-run", interactive: false }).addTo(layer);
      L.circleMarker(meet, { pane: "patrol", radius: 4, color: MEET_COLOR, weight: 2, fillColor: "#fff", fillOpacity: 1, className: "meet-point", interactive: false }).addTo(layer);
    }
    L.circleMarker(base, { pane: "patrol", radius: 7, color: "#fff", weight: 2, fillColor: MEET_COLOR, fillOpacity: 1, className: "patrol-base", interactive: false }).addTo(layer);
    patrol.layer = layer.addTo(map);
  }

  function clearPatrol() {
    if (patrol.layer) map.removeLayer(patrol.layer);
    patrol.layer = null;
    patrol.items = [];
    setPicking(false);
    $("patrol-list").replaceChildren();
    $("patrol-note").textContent = "";
  }

  $("patrol-form").addEventListener("submit", (ev) => { ev.preventDefault(); findIntercepts(); });
  $("patrol-pick").addEventListener("click", () => setPicking(!patrol.picking));
  $("patrol-clear").addEventListener("click", clearPatrol);
  // Escape while picking a base stops picking, and only that (the page's own Escape would close the vessel panel)
  window.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && patrol.picking) { setPicking(false); ev.stopPropagation(); }
  }, true);
  $("patrol").hidden = false;

  sw.reach = { reach, patrol, drawReach, findIntercepts }; // for the end-to-end test
})();
