// The station display: renders each state the daemon streams (server-sent events).
// Everything shown is set with textContent: a scanned code is data, never markup.
"use strict";

const VERDICT = { accepted: "OK", rejected: "REFUSED", duplicate: "DOUBLE READ" };
let received = 0; // when the last state arrived (performance.now), for the countdowns
let pending = {};
let lastScanId = null; // the newest scan seen, so a sound plays once per new refusal
let audio = null;

function el(tag, text, attrs) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  return node;
}

function fill(list, items, empty) {
  list.replaceChildren(...(items.length ? items : [el("li", empty, { class: "none" })]));
}

function clock(at) {
  return at ? new Date(at).toLocaleTimeString([], { hour12: false }) : "";
}

function shared(state) {
  const broker = document.getElementById("broker");
  if (state.broker === null) {
    broker.textContent = "no broker";
    broker.className = "pill";
  } else {
    broker.textContent = state.broker.connected ? "MQTT connected" : "MQTT DISCONNECTED";
    broker.className = "pill " + (state.broker.connected ? "ok" : "bad");
  }
  broker.dataset.connected = String(Boolean(state.broker && state.broker.connected));
  const health = document.getElementById("health");
  health.textContent = state.health.ok ? "database ok" : "DATABASE: " + state.health.reason;
  health.className = "pill " + (state.health.ok ? "ok" : "bad");
  health.dataset.ok = String(state.health.ok);
}

function scanners(list, items) {
  fill(list, items.map((s) => el("li", `${s.scanner}: ${s.connected ? "connected" : s.state.toUpperCase()}`,
    { class: s.connected ? "connected" : "disconnected", "data-scanner": s.scanner,
      "data-state": s.connected ? "connected" : "disconnected" })), "no scanner");
}

function station(state) {
  document.title = state.station;
  document.getElementById("station").textContent = `${state.station} · ${state.mode}`;
  const banner = document.getElementById("banner");
  const latest = state.latest;
  banner.dataset.status = latest ? latest.status : "none";
  banner.dataset.scanId = latest ? String(latest.scan_id) : "";
  document.getElementById("verdict").textContent = latest ? VERDICT[latest.status] || latest.status : "WAITING";
  document.getElementById("words").textContent = latest ? latest.words : "no scan yet";
  document.getElementById("when").textContent = latest ? `${clock(latest.at)} · ${latest.scanner}` : "";
  if (latest && lastScanId !== null && latest.scan_id !== lastScanId && latest.status === "rejected" && state.sound) beep();
  lastScanId = latest ? latest.scan_id : 0;
  pending = state.pending;
  countdown();
  scanners(document.getElementById("scanners"), state.scanners);
  fill(document.getElementById("low"), state.low.map((p) => el("li",
    `${p.part}: ${p.on_hand}${p.reorder_point === null ? "" : " (min " + p.reorder_point + ")"}`,
    { class: p.state === "negative" ? "bad" : "waiting", "data-part": p.part }))
    .concat(state.low_count > state.low.length ? [el("li", `and ${state.low_count - state.low.length} more`, { class: "none" })] : []), "none");
  const rows = state.scans.map((s) => {
    const row = el("tr", undefined, { "data-scan-id": String(s.scan_id), "data-status": s.status });
    row.append(el("td", clock(s.at)), el("td", s.scanner), el("td", s.words, { class: "words" }));
    return row;
  });
  document.querySelector("#scans tbody").replaceChildren(...rows);
  const sound = document.getElementById("sound");
  sound.hidden = !state.sound || (audio !== null && audio.state === "running");
}

function countdown() {
  const list = document.getElementById("pending");
  const gone = (performance.now() - received) / 1000;
  const items = [];
  for (const [key, label] of [["qty", "QTY"], ["reason", "RSN"]]) {
    const item = pending[key];
    if (!item) continue;
    const left = Math.ceil(item.remaining_s - gone);
    if (left > 0) items.push(el("li", `${label} ${item.value} · ${left} s`, { class: "waiting", "data-pending": key }));
  }
  fill(list, items, "nothing pending");
}

function overview(state) {
  const tiles = state.stations.map((s) => {
    const tile = el("a", undefined, { class: "tile", href: "/station/" + encodeURIComponent(s.station),
      "data-station": s.station, "data-status": s.latest ? s.latest.status : "none" });
    tile.append(el("h2", `${s.station} · ${s.mode}`), el("div", s.latest ? s.latest.words : "no scan yet"));
    const list = el("ul");
    scanners(list, s.scanners);
    tile.append(list);
    return tile;
  });
  document.getElementById("tiles").replaceChildren(...tiles);
}

function beep() {
  if (audio === null) return;
  const now = audio.currentTime;
  for (const start of [0, 0.22]) {
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.type = "square";
    tone.frequency.value = 440;
    gain.gain.setValueAtTime(0.3, now + start);
    gain.gain.setValueAtTime(0, now + start + 0.16);
    tone.connect(gain).connect(audio.destination);
    tone.start(now + start);
    tone.stop(now + start + 0.18);
  }
}

function enableSound() {
  // Browsers start audio only after a tap; a kiosk can allow it with
  // chromium --autoplay-policy=no-user-gesture-required.
  if (audio === null) audio = new AudioContext();
  audio.resume().then(() => { document.getElementById("sound").hidden = true; });
}

const page = document.body.dataset.page;
const name = page === "station" ? decodeURIComponent(location.pathname.split("/")[2]) : null;
const source = new EventSource(name === null ? "/events" : "/events?station=" + encodeURIComponent(name));
source.onmessage = (message) => {
  document.body.classList.remove("lost");
  received = performance.now();
  const state = JSON.parse(message.data);
  shared(state);
  (page === "station" ? station : overview)(state);
};
source.onerror = () => document.body.classList.add("lost");
if (page === "station") {
  setInterval(countdown, 250);
  document.addEventListener("click", enableSound);
  try { enableSound(); } catch (error) { /* no audio device: the page still works */ }
}
