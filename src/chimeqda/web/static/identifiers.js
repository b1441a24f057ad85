// Pseudonymisation in the document view: proposed identifiers highlighted in the transcript
// (CSS Custom Highlight API, so the coding view's DOM is untouched), confirm / reject,
// mark a selection, apply. Every change is one API call; the server logs it in the audit trail.
(function () {
  "use strict";
  const root = document.getElementById("docview");
  const panel = document.getElementById("identifiers");
  if (!root || !panel) return;
  const documentId = +root.dataset.document;
  const projectId = +root.dataset.project;
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const $ = (id) => document.getElementById(id);
  const transcript = $("transcript");
  const base = "/api/documents/" + documentId + "/identifiers";
  let state = { enabled: false, status: "", proposals: [] };
  let focused = null;

  async function api(method, url, body) {
    const response = await fetch(url, {
      method, credentials: "same-origin",
      headers: Object.assign({ "Accept": "application/json" },
        method === "GET" ? {} : { "Content-Type": "application/json", "X-CSRF-Token": csrf }),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.detail || ("error " + response.status));
    return data;
  }
  function say(message, isError) {
    const node = $("identifiers-message");
    node.textContent = message;
    node.classList.toggle("error", !!isError);
  }
  const cpLength = (s) => [...s].length;
  const u16 = (s, cp) => [...s].slice(0, cp).join("").length;

  // ------------------------------------------------------------------ offsets <-> transcript text nodes
  function segs() { return [...transcript.querySelectorAll(".seg")]; }
  function rangesOf(start, end) {
    const ranges = [];
    for (const seg of segs()) {
      const a = +seg.dataset.s, b = +seg.dataset.e, node = seg.firstChild;
      if (!node || b <= start || a >= end) continue;
      const range = document.createRange();
      range.setStart(node, u16(node.data, Math.max(start, a) - a));
      range.setEnd(node, u16(node.data, Math.min(end, b) - a));
      ranges.push(range);
    }
    return ranges;
  }
  function offsetOf(node, offset) {
    const seg = node && node.nodeType === 3 ? node.parentElement : null;
    if (!seg || !seg.classList.contains("seg")) return null;
    return +seg.dataset.s + cpLength(node.data.slice(0, offset));
  }

  // ------------------------------------------------------------------ drawing
  function highlight() {
    if (!window.CSS || !CSS.highlights || typeof Highlight === "undefined") return;
    for (const status of ["proposed", "confirmed", "rejected"]) {
      const ranges = state.proposals.filter((p) => p.status === status || (status === "confirmed" && p.status === "added"))
        .flatMap((p) => rangesOf(p.start, p.end));
      CSS.highlights.set("identifier-" + status, new Highlight(...ranges));
    }
  }
  function render() {
    panel.hidden = !state.enabled && !state.proposals.length;
    $("identifiers-status").textContent = "Status: " + state.status;
    const list = $("identifier-list");
    list.replaceChildren();
    for (const p of state.proposals) {
      const item = document.createElement("li");
      item.className = "identifier " + p.status + (focused === p.id ? " focus" : "");
      item.dataset.id = p.id;
      const words = document.createElement("mark");
      words.textContent = p.text;
      const about = document.createElement("span");
      about.className = "muted";
      about.textContent = " " + p.label + " · " + p.status + " · " + p.source + (p.score == null ? "" : " " + p.score.toFixed(2));
      item.append(words, about);
      if (root.dataset.canCode === "1" && state.status !== "pseudonymised") {
        for (const [status, label] of [["confirmed", "Confirm"], ["rejected", "Reject"]]) {
          if (p.status === status || (status === "confirmed" && p.status === "added")) continue;
          const button = document.createElement("button");
          button.type = "button";
          button.textContent = label;
          button.dataset.status = status;
          button.className = "identifier-" + status;
          item.append(" ", button);
        }
      }
      list.append(item);
    }
    highlight();
  }
  async function load() {
    try { state = await api("GET", base); render(); } catch (error) { say(error.message, true); }
  }

  // ------------------------------------------------------------------ actions
  panel.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-status]");
    if (!button) return;
    const id = +button.closest("li").dataset.id;
    try {
      state = await api("POST", base + "/" + id + "/decide", { status: button.dataset.status });
      render();
      say(button.dataset.status === "rejected" ? "Rejected: the words stay as they are." : "Confirmed.");
    } catch (error) { say(error.message, true); }
  });
  transcript.addEventListener("click", () => {
    const selection = window.getSelection();
    if (!selection || !selection.isCollapsed || !selection.anchorNode) return;
    const at = offsetOf(selection.anchorNode, selection.anchorOffset);
    const hit = at == null ? null : state.proposals.find((p) => p.start <= at && at < p.end);
    if (!hit) return;
    focused = hit.id;
    render();
    const item = panel.querySelector('li[data-id="' + hit.id + '"]');
    if (item) { item.scrollIntoView({ block: "nearest" }); const b = item.querySelector("button"); if (b) b.focus(); }
  });
  const mark = $("identifier-mark");
  if (mark) mark.addEventListener("click", async () => {
    const selection = window.getSelection();
    if (!selection || !selection.rangeCount || selection.isCollapsed) { say("Select the words in the transcript first.", true); return; }
    const range = selection.getRangeAt(0);
    const start = offsetOf(range.startContainer, range.startOffset), end = offsetOf(range.endContainer, range.endOffset);
    if (start == null || end == null || end <= start) { say("Select words inside the transcript.", true); return; }
    try {
      state = await api("POST", base, { start, end, label: $("identifier-label").value });
      render();
      say("Marked.");
    } catch (error) { say(error.message, true); }
  });
  const applyForm = $("identifier-apply");
  if (applyForm) applyForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const passphrase = $("identifier-passphrase").value;
    try {
      const done = await api("POST", "/api/documents/" + documentId + "/pseudonymise", { passphrase });
      $("identifier-passphrase").value = "";
      window.location = "/projects/" + projectId + "/documents/" + done.document_id;
    } catch (error) { say(error.message, true); }
  });

  // The coding view re-renders turns as codings change: redraw the highlights after it.
  let pending = 0;
  new MutationObserver(() => { cancelAnimationFrame(pending); pending = requestAnimationFrame(highlight); })
    .observe(transcript, { childList: true, subtree: true });
  load();
})();
