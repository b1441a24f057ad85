// Correcting speaker turns in the document view (coders): click a turn's speaker, or focus it
// (Tab) and press Enter, or press Alt+S with a sentence selected. The editor sets the speaker
// and role of this turn, or of every turn with the same speaker; Enter saves, Esc cancels.
// The server changes the turns through services/speakers.py and returns them all.
(function () {
  "use strict";
  const doc = window.chimeqdaDocument;
  if (!doc || !doc.canCode) return;
  const el = doc.el, ROLES = ["participant", "interviewer", "other"];
  let open = null;  // {index, node}

  function speakersInUse() {
    return [...new Set(doc.turns.map((turn) => turn[2]).filter(Boolean))].sort();
  }
  function close(focus) {
    if (!open) return;
    const { index } = open;
    open = null;
    doc.redrawTurn(index);
    if (focus) { const node = document.querySelector(`#turn-${index} .speaker`); if (node) node.focus(); }
  }
  function edit(index) {
    if (open) close(false);
    const row = document.getElementById("turn-" + index);
    if (!row) return;
    const [, , speaker, role] = doc.turns[index];
    const cell = row.querySelector(".speaker");
    const list = el("datalist", { id: "speaker-names" }, ...speakersInUse().map((name) => el("option", { value: name })));
    const name = el("input", { type: "text", value: speaker, list: "speaker-names", "aria-label": "speaker", maxlength: 200, class: "speaker-name" });
    const roles = el("select", { "aria-label": "role", class: "speaker-role" }, ...ROLES.map((r) => el("option", { value: r, text: r })));
    roles.value = role;
    const others = doc.turns.filter((turn) => turn[2] === speaker).length;
    const scope = el("select", { "aria-label": "which turns", class: "speaker-scope" },
      el("option", { value: "turn", text: "this turn" }),
      speaker && others > 1 ? el("option", { value: "speaker", text: `all ${others} turns of ${speaker}` }) : null);
    const form = el("form", { class: "speaker-editor" }, list, name, roles, scope,
      el("button", { type: "submit", text: "Save" }), el("button", { type: "button", "data-cancel": "1", text: "Cancel" }));
    cell.replaceChildren(form);
    cell.classList.add("editing");
    open = { index, node: form };
    name.focus(); name.select();
    form.addEventListener("submit", (event) => { event.preventDefault(); save(index, name.value.trim(), roles.value, scope.value); });
    form.addEventListener("click", (event) => { event.stopPropagation(); if (event.target.dataset.cancel) close(true); });
    form.addEventListener("mousedown", (event) => event.stopPropagation());
    form.addEventListener("mouseup", (event) => event.stopPropagation());
    form.addEventListener("keydown", (event) => { event.stopPropagation(); if (event.key === "Escape") { event.preventDefault(); close(true); } });
  }
  async function save(index, speaker, role, scope) {
    if (!speaker) { doc.status("Give the speaker a name (or pick one from the list).", true); return; }
    try {
      const data = await doc.api("POST", `/api/documents/${doc.documentId}/turns/${index}`, { speaker, role, scope });
      const changed = [];
      data.turns.forEach((turn, i) => {
        const old = doc.turns[i];
        if (!old || old.join("\u0000") !== turn.join("\u0000")) changed.push(i);
        doc.turns[i] = turn;
      });
      open = null;
      changed.forEach((i) => doc.redrawTurn(i));
      doc.redrawTurn(index);
      doc.status(changed.length > 1 ? `Changed ${changed.length} turns` : "Speaker changed");
      const node = document.querySelector(`#turn-${index} .speaker`);
      if (node) node.focus();
    } catch (error) { doc.status(error.message, true); }
  }

  doc.transcript.addEventListener("click", (event) => {
    const cell = event.target.closest(".speaker.editable");
    if (!cell || cell.classList.contains("editing")) return;
    edit(+cell.closest(".turn").dataset.turn);
  });
  doc.transcript.addEventListener("keydown", (event) => {
    const cell = event.target.closest && event.target.closest(".speaker.editable");
    if (cell && !cell.classList.contains("editing") && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault(); event.stopPropagation();
      edit(+cell.closest(".turn").dataset.turn);
    }
  });
  document.addEventListener("keydown", (event) => {
    if (!event.altKey || event.ctrlKey || event.metaKey || event.code !== "KeyS") return;
    const tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select") return;
    const chosen = doc.selection;
    if (!chosen) { doc.status("Select a sentence first (↑ ↓), then Alt+S changes its speaker.", true); return; }
    event.preventDefault();
    edit(doc.turnOf(chosen.start));
  });
})();
