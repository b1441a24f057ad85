// Correcting words of a transcript (coders): select the words (double-click one, or drag), then
// press Alt+E or the button, type the correction, Enter. The server makes a new version of the
// document that keeps every coding (services/corrections.py); the page then opens that version
// at the same place in the recording. A page still showing an older version says so and stops.
(function () {
  "use strict";
  const doc = window.chimeqdaDocument;
  if (!doc) return;
  const el = doc.el, MAX = 500;
  const button = document.getElementById("correct-start"), form = document.getElementById("correct-form");

  doc.onPoll((data) => {
    if (!data.superseded_by) return true;
    const link = el("a", { href: `/projects/${doc.projectId}/documents/${data.superseded_by}`, text: "open the corrected version" });
    const banner = el("div", { class: "superseded", role: "alert" }, "This transcript has been corrected since you opened it; ", link,
      " (work on this page would go to the old version).");
    doc.root.prepend(banner);
    doc.root.classList.add("is-superseded");
    return false;
  });
  if (!doc.canCode || !button || !form) return;
  const input = form.querySelector("input"), original = form.querySelector(".original");

  function start() {
    const chosen = doc.selection;
    if (!chosen) { doc.status("Select the words to correct first (double-click a word, or drag).", true); return; }
    if (chosen.end - chosen.start > MAX) { doc.status(`Select at most ${MAX} characters to correct.`, true); return; }
    const words = doc.slice(chosen.start, chosen.end);
    form.dataset.start = chosen.start; form.dataset.end = chosen.end;
    original.textContent = `“${words}”`;
    input.value = words;
    form.hidden = false; button.hidden = true;
    input.focus(); input.select();
  }
  function stop() { form.hidden = true; button.hidden = false; doc.transcript.focus(); }
  async function save() {
    const body = { start: +form.dataset.start, end: +form.dataset.end, replacement: input.value };
    try {
      input.disabled = true;
      const data = await doc.api("POST", `/api/documents/${doc.documentId}/corrections`, body);
      const audio = document.getElementById("player-audio");
      const at = audio ? `#t=${audio.currentTime.toFixed(2)}` : "";
      doc.status(`Corrected: version ${data.version}`);
      window.location.assign(data.url + at);
    } catch (error) { doc.status(error.message, true); input.disabled = false; }
  }
  button.addEventListener("click", start);
  form.addEventListener("submit", (event) => { event.preventDefault(); save(); });
  form.addEventListener("keydown", (event) => { event.stopPropagation(); if (event.key === "Escape") { event.preventDefault(); stop(); } });
  form.querySelector("[data-cancel]").addEventListener("click", stop);
  document.addEventListener("keydown", (event) => {
    if (!event.altKey || event.ctrlKey || event.metaKey || event.code !== "KeyE") return;
    const tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select") return;
    event.preventDefault();
    start();
  });
})();
