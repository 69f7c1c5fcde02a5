// The console's behaviour: the token kept in this tab's session, sent by htmx on every
// fragment request; the page's live stream; the PnL chart. No build step.
"use strict";
(() => {
  const KEY = "stratus.token";
  const body = document.body;
  const content = document.getElementById("content");
  const signIn = document.getElementById("sign-in");
  let current = content.dataset.src; // the fragment shown, filters and page included
  let socket = null;
  let refreshTimer = null;
  let closedForGood = false;

  const token = () => sessionStorage.getItem(KEY);

  document.body.addEventListener("htmx:configRequest", (event) => {
    if (token()) event.detail.headers.Authorization = "Bearer " + token();
    // A filter left empty is no filter (the server refuses an empty value).
    for (const [name, value] of Object.entries(event.detail.parameters)) {
      if (value === "") delete event.detail.parameters[name];
    }
  });
  document.body.addEventListener("htmx:afterRequest", (event) => {
    if (event.detail.target === content && event.detail.successful) current = event.detail.pathInfo.finalRequestPath;
  });
  document.body.addEventListener("htmx:responseError", (event) => {
    const status = event.detail.xhr.status;
    if (status === 401) return showSignIn("That token was refused.");
    content.innerHTML = "";
    const p = document.createElement("p");
    p.className = "error";
    p.textContent = status === 403 ? "Your role may not see this page." : "The manager answered " + status + ".";
    content.append(p);
  });
  document.body.addEventListener("htmx:afterSwap", () => drawChart());

  // Control buttons (cancel, close, flatten): confirmed, sent as JSON with the token; the
  // manager's answer is shown, then the page reloads (docs/control.md).
  content.addEventListener("click", async (event) => {
    const button = event.target.closest("button.control");
    if (!button || !confirm(button.dataset.confirm)) return;
    button.disabled = true;
    const init = { method: button.dataset.method, headers: { Authorization: "Bearer " + token() } };
    if (button.dataset.body) {
      init.headers["Content-Type"] = "application/json";
      init.body = button.dataset.body;
    }
    const answer = await fetch(button.dataset.url, init);
    const text = await answer.text();
    let said = text;
    try {
      const data = JSON.parse(text);
      said = answer.ok ? (data.done === undefined ? "requested" : (data.done ? "done" : "in progress: press again")) : (data.error + ": " + JSON.stringify(data.detail));
    } catch (ignored) { /* not JSON: shown as it came */ }
    note({ type: "control", text: button.textContent + " " + answer.status + " " + said });
    refreshSoon();
  });

  function showSignIn(message) {
    sessionStorage.removeItem(KEY);
    signIn.hidden = false;
    content.innerHTML = "";
    document.getElementById("sign-in-error").textContent = message || "";
    document.getElementById("sign-out").hidden = true;
    if (socket) { closedForGood = true; socket.close(); }
  }

  signIn.addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY, document.getElementById("token").value.trim());
    start();
  });
  document.getElementById("sign-out").addEventListener("click", () => showSignIn(""));

  async function start() {
    if (!token()) return showSignIn("");
    const answer = await fetch("/api/v1/me", { headers: { Authorization: "Bearer " + token() } });
    if (!answer.ok) return showSignIn("That token was refused.");
    const me = await answer.json();
    body.dataset.role = me.role;
    document.getElementById("who").textContent = me.name + " · " + me.role;
    document.getElementById("sign-out").hidden = false;
    signIn.hidden = true;
    load(current);
    if (body.dataset.live) connect(body.dataset.live);
  }

  function load(url) {
    return htmx.ajax("GET", url, { target: content, swap: "innerHTML" });
  }

  // Coalesce bursts: one refresh at most every 150 ms, always after the latest event.
  function refreshSoon() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(() => { refreshTimer = null; load(current); }, 150);
  }

  function connect(stream) {
    closedForGood = false;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(scheme + "//" + location.host + "/ws/" + stream + "?token=" + encodeURIComponent(token()));
    const badge = document.getElementById("live");
    let silence = null;
    const alive = () => { clearTimeout(silence); silence = setTimeout(() => socket.close(), 40000); };
    socket.onopen = () => { badge.textContent = "live"; badge.className = "live on"; alive(); };
    socket.onmessage = (event) => {
      alive();
      const message = JSON.parse(event.data);
      if (message.type === "heartbeat" || message.type === "snapshot") return;
      if (message.type === "error") { if (message.error !== "lagging") closedForGood = true; return; }
      note(message);
      refreshSoon();
    };
    socket.onclose = (event) => {
      clearTimeout(silence);
      badge.textContent = "offline"; badge.className = "live off";
      if (event.code === 4401) return showSignIn("That token was refused.");
      if (!closedForGood && event.code !== 4403) setTimeout(() => connect(stream), 2000);
    };
  }

  // The newest events, as one line each, under the page.
  function note(message) {
    const line = describe(message);
    if (!line) return;
    document.getElementById("activity").hidden = false;
    const item = document.createElement("li");
    item.textContent = new Date().toLocaleTimeString() + "  " + line;
    const list = document.getElementById("events");
    list.prepend(item);
    while (list.children.length > 50) list.lastChild.remove();
  }

  function describe(m) {
    if (m.type === "control") return m.text;
    if (m.type === "update" || m.type === "close") {
      const p = m.position;
      return (m.type === "close" ? "closed " : "position ") + p.account + "/" + p.strategy + " " + p.symbol + " " + p.quantity + " @ " + p.average_entry;
    }
    if (m.type === "order") return "order " + m.order.side + " " + m.order.quantity + " " + m.order.symbol + " (" + m.order.request_id + ")";
    if (m.type === "fill") return "fill " + m.fill.side + " " + m.fill.quantity + " " + m.fill.symbol + " @ " + m.fill.price;
    if (m.type === "signal") {
      const s = m.signal;
      return "signal " + s.signal_id + " " + s.status + (s.reason ? ": " + s.reason + " (" + s.detail + ")" : "");
    }
    return "";
  }

  async function drawChart() {
    const box = document.getElementById("pnl-chart");
    if (!box) return;
    const answer = await fetch(box.dataset.src, { headers: { Authorization: "Bearer " + token() } });
    if (!answer.ok) return;
    const data = await answer.json();
    box.innerHTML = "";
    const width = Math.max(280, box.clientWidth - 16);
    const series = (name, points, color) => {
      if (!points.length) return;
      const plot = [points.map((p) => p[0]), points.map((p) => parseFloat(p[1]))]; // plotting only
      new uPlot({ title: name, width, height: 240, series: [{}, { label: "PnL", stroke: color, width: 2 }] }, plot, box);
    };
    series("Net PnL at each snapshot", data.snapshots, "#0969da");
    series("Realized PnL net of fees, by fill", data.fills, "#1a7f37");
    if (!data.snapshots.length && !data.fills.length) box.textContent = "No snapshot or fill yet.";
  }

  start();
})();
