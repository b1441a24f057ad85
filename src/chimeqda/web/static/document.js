// The document view: transcript by speaker turn, code palette, codings, suggestions,
// memos and review mode. Vanilla JavaScript, no build step.
//
// State is derived from the coding events exactly as services.coding does:
// an accepted coding is an "accepted" event no "removed" event decides; a pending
// suggestion is a "suggested" event no visible "accepted"/"rejected" event decides.
// Offsets from the server are Unicode code points; JavaScript strings count UTF-16
// units, so cp()/u16() convert (identity unless the text has astral characters).
(function () {
  "use strict";
  const root = document.getElementById("docview");
  if (!root) return;
  const documentId = +root.dataset.document;
  const projectId = +root.dataset.project;
  const pollMs = +root.dataset.poll || 2000;
  const canCode = root.dataset.canCode === "1";
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const $ = (id) => document.getElementById(id);
  const transcript = $("transcript");
  const FALLBACK = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

  let text = "", turns = [], segments = [], me = {};
  let words = [], timed = false;  // uncertain words [start, end, p]; whether sentences have times
  let astralCp = [], astralU16 = [];
  const codes = new Map(), codesByKey = new Map(), coders = new Map();
  const events = new Map(), deciders = new Map(), buckets = [];
  const memos = new Map();
  let cursor = 0, memoCursor = 0;
  let sel = null;             // {start, end} in code points
  let paletteIndex = 0, changing = null, review = null, detailsAt = null;
  const dirty = new Set();
  const flags = new Map(), noCode = new Set();  // open review flags by segment id; sentences "reviewed: no code"
  const expanded = new Set();                   // grouped suggestion chips shown sentence by sentence ("turn:code")

  // ------------------------------------------------------------------ helpers
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v === true ? "" : v);
    }
    for (const child of children) if (child !== null && child !== undefined) node.append(child);
    return node;
  }
  function lowerBound(list, value) {
    let lo = 0, hi = list.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (list[mid] < value) lo = mid + 1; else hi = mid; }
    return lo;
  }
  const u16 = (cp) => cp + lowerBound(astralCp, cp);
  const cp = (u) => u - lowerBound(astralU16, u);
  const slice = (a, b) => text.slice(u16(a), u16(b));
  function status(message, isError) {
    const node = $("status");
    node.textContent = message;
    node.className = "status" + (isError ? " error" : "") + (message ? " shown" : "");
    clearTimeout(status.timer);
    if (message) status.timer = setTimeout(() => { node.className = "status"; }, isError ? 6000 : 2500);
  }
  function rgba(hex, alpha) {
    const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex || "");
    return m ? `rgba(${parseInt(m[1], 16)},${parseInt(m[2], 16)},${parseInt(m[3], 16)},${alpha})` : `rgba(120,120,120,${alpha})`;
  }
  function turnOf(offset) { // index of the turn containing offset (or the last before it)
    let lo = 0, hi = turns.length - 1, found = 0;
    while (lo <= hi) { const mid = (lo + hi) >> 1; if (turns[mid][0] <= offset) { found = mid; lo = mid + 1; } else hi = mid - 1; }
    return found;
  }
  async function api(method, url, body) {
    const response = await fetch(url, {
      method, credentials: "same-origin",
      headers: Object.assign({ "Accept": "application/json" }, method === "GET" ? {} : { "Content-Type": "application/json", "X-CSRF-Token": csrf }),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 401) { window.location = "/login?next=" + encodeURIComponent(location.pathname); throw new Error("logged out"); }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.detail || ("error " + response.status));
    return data;
  }

  // ------------------------------------------------------------------ state
  function addEvent(row) {
    const [id, start, end, code, coder, action, decides, score, evidence] = row;
    if (events.has(id)) return;
    const e = { id, start, end, code, coder, action, decides, score, evidence };
    events.set(id, e);
    if (decides !== null) {
      if (!deciders.has(decides)) deciders.set(decides, []);
      deciders.get(decides).push(e);
      const target = events.get(decides);
      if (target) markDirty(target.start, target.end);
    }
    if (turns.length) {
      const last = turnOf(Math.max(start, end - 1));
      for (let t = turnOf(start); t <= last; t++) buckets[t].push(id);
    }
    markDirty(start, end);
  }
  function markDirty(start, end) {
    if (!turns.length) return;
    const last = turnOf(Math.max(start, end - 1));
    for (let t = turnOf(start); t <= last; t++) dirty.add(t);
  }
  const decidedBy = (e, actions) => (deciders.get(e.id) || []).some((d) => actions.includes(d.action));
  const isCoding = (e) => e.action === "accepted" && !decidedBy(e, ["removed"]);
  const isPending = (e) => e.action === "suggested" && !decidedBy(e, ["accepted", "rejected"]);
  const visibleItem = (e) => isCoding(e) || isPending(e);
  function codeColor(code) {
    if (code.color) return code.color;
    let rootCode = code;
    while (rootCode.parent && codesByKey.has(rootCode.parent)) rootCode = codesByKey.get(rootCode.parent);
    return FALLBACK[rootCode.rootIndex % FALLBACK.length];
  }
  const coderName = (id) => (coders.get(id) || ["?"])[0];
  const isMachine = (id) => (coders.get(id) || ["", ""])[1] === "machine";
  function addCoders(map) { for (const [id, value] of Object.entries(map || {})) coders.set(+id, value); }
  function addMemo(row) {
    const [id, type, target, author, body, created] = row;
    memos.set(id, { id, type, target, author, body, created });
  }
  const memosOn = (type, target) => [...memos.values()].filter((m) => m.type === type && m.target === target);

  // ------------------------------------------------------------------ rendering
  function renderTurn(index) {
    const [tStart, tEnd, speaker, role] = turns[index];
    const items = buckets[index].map((id) => events.get(id)).filter(visibleItem);
    const cuts = new Set([tStart, tEnd]);
    const cut = (x) => { if (x >= tStart && x <= tEnd) cuts.add(x); };
    for (const e of items) { cuts.add(Math.max(tStart, e.start)); cuts.add(Math.min(tEnd, e.end)); }
    if (timed) for (let s = segmentIndexAt(tStart); s < segments.length && segments[s][0] < tEnd; s++) { cut(segments[s][0]); cut(segments[s][1]); }
    const unsure = [];  // uncertain words in this turn
    for (let w = wordIndexAfter(tStart); w < words.length && words[w][0] < tEnd; w++) { unsure.push(words[w]); cut(words[w][0]); cut(words[w][1]); }
    const points = [...cuts].sort((a, b) => a - b);
    const body = el("div", { class: "turn-text" });
    for (let i = 0; i < points.length - 1; i++) {
      const a = points[i], b = points[i + 1];
      if (a >= b) continue;
      const span = el("span", { class: "seg", "data-s": a, "data-e": b, text: slice(a, b) });
      const covering = items.filter((e) => e.start <= a && e.end >= b);
      const coded = covering.filter(isCoding), suggested = covering.filter(isPending);
      if (coded.length) {
        span.classList.add("coded");
        if (coded.length > 1) span.classList.add("multi");
        span.style.backgroundColor = rgba(codeColor(codes.get(coded[0].code)), coded.length > 1 ? 0.45 : 0.3);
      }
      if (suggested.length) span.classList.add("suggested");
      if (covering.length) span.dataset.ids = covering.map((e) => e.id).join(",");
      if (timed) { const s = segmentIndexAt(a); if (segments[s][0] <= a && b <= segments[s][1]) span.dataset.seg = s; }
      const word = unsure.find((w) => w[0] <= a && b <= w[1]);
      if (word) { span.classList.add("uncertain"); span.title = `uncertain word (probability ${word[2].toFixed(2)}): check it against the recording`; }
      body.append(span);
    }
    const margin = el("div", { class: "margin" });
    const groups = new Map();  // one chip per code per turn for the pending suggestions
    for (const e of items.filter((x) => turnOf(x.start) === index).sort((x, y) => x.start - y.start || x.id - y.id)) {
      if (!isPending(e)) { margin.append(chip(e)); continue; }
      if (!groups.has(e.code)) { groups.set(e.code, []); margin.append(el("div", { class: "chip-slot", "data-code": e.code })); }
      groups.get(e.code).push(e);
    }
    for (const [code, list] of groups) margin.querySelector(`.chip-slot[data-code="${code}"]`).replaceWith(suggestionChip(index, list));
    const flagged = new Map(), cleared = [];  // open flags by code; sentences "reviewed: no code"
    for (let s = segmentIndexAt(tStart); segments.length && s < segments.length && segments[s][0] < tEnd; s++) {
      const id = segments[s][4];
      if (segments[s][1] <= tStart || id === undefined) continue;
      if (noCode.has(id)) { cleared.push(id); continue; }
      if (!flagShown(s, items)) continue;
      const flag = flags.get(id);
      if (!flagged.has(flag.code)) flagged.set(flag.code, []);
      flagged.get(flag.code).push([id, flag.score]);
    }
    for (const [code, list] of flagged) margin.append(flagChip(code, list));
    if (cleared.length) margin.append(noCodeChip(cleared));
    const who = canCode ? el("div", { class: "speaker editable", text: speaker || "—", tabindex: 0, role: "button",
      title: "Change the speaker or role of this turn (click, or Enter)" }) : el("div", { class: "speaker", text: speaker || "" });
    return el("div", { class: "turn role-" + role, id: "turn-" + index, "data-turn": index }, who, body, margin);
  }
  // Pending suggestions of one code in one turn: one chip, its probability per sentence (one suggestion per
  // code per sentence: repeats on a sentence are decided together), "×N sentences" when it covers several.
  function bySentence(list) {
    const sentences = new Map();
    for (const e of list) {
      const s = segments.length ? segmentIndexAt(e.start) : e.start;
      if (!sentences.has(s)) sentences.set(s, []);
      sentences.get(s).push(e);
    }
    return [...sentences.values()];
  }
  const best = (list) => Math.max(...list.map((e) => (e.score === null ? -1 : e.score)));
  const scoreText = (values) => {
    const known = values.filter((v) => v >= 0);
    if (!known.length) return "";
    const lo = Math.min(...known), hi = Math.max(...known);
    return lo.toFixed(2) === hi.toFixed(2) ? hi.toFixed(2) : `${lo.toFixed(2)}–${hi.toFixed(2)}`;
  };
  function decideButtons(ids, what) {
    return [el("button", { type: "button", class: "accept", title: "Accept" + what, "data-act": "accepted", "data-ids": ids.join(","), text: "✓" }),
      el("button", { type: "button", class: "reject", title: "Reject" + what, "data-act": "rejected", "data-ids": ids.join(","), text: "✗" })];
  }
  function suggestionChip(turnIndex, list) {
    const sentences = bySentence(list);
    if (sentences.length === 1) return chip(list[0], list);
    const code = codes.get(list[0].code) || { name: "?" };
    const key = `${turnIndex}:${list[0].code}`, open = expanded.has(key);
    const ids = list.map((e) => e.id);
    const node = el("div", { class: "chip suggestion group", "data-id": list[0].id, "data-ids": ids.join(","), "data-count": sentences.length, "data-code": code.key,
      title: `${code.name}: suggested for ${sentences.length} sentences of this turn (${code.definition || ""})` },
      el("span", { class: "dot", text: "?" }), el("span", { class: "name", text: code.name }),
      el("span", { class: "score", text: scoreText(sentences.map(best)) }),
      el("button", { type: "button", class: "expand", "data-expand": key, "aria-expanded": open ? "true" : "false",
        title: open ? "Show as one chip" : "Show each sentence", text: `×${sentences.length} sentences ${open ? "▴" : "▾"}` }));
    node.querySelector(".dot").style.borderColor = codeColor(code);
    if (canCode) node.append(...decideButtons(ids, ` all ${sentences.length}`));
    if (!open) return node;
    const box = el("div", { class: "chip-group" }, node);
    for (const members of sentences) {
      const member = chip(members[0], members);
      member.classList.add("member");
      box.append(member);
    }
    return box;
  }
  function flagShown(s, items) {  // an open flag, not coded or suggested since (the sentence is still empty)
    if (!flags.has(segments[s][4])) return false;
    return !items.some((e) => e.start < segments[s][1] && e.end > segments[s][0]);
  }
  const plural = (n) => (n > 1 ? ` ×${n} sentences` : "");
  function flagChip(codeId, list) {  // sentences with no suggestion although this code is fairly likely
    const code = codes.get(codeId) || { name: "?" };
    const ids = list.map((x) => x[0]);
    const node = el("div", { class: "chip flag" + (ids.length > 1 ? " group" : ""), "data-segments": ids.join(","), "data-count": ids.length,
      title: `No suggestion here, but ${code.name} is fairly likely (probability ${scoreText(list.map((x) => x[1]))}): ` +
        "code the sentence, or mark it reviewed: no code" },
      el("span", { class: "dot", text: "⚑" }), el("span", { class: "name", text: code.name }),
      el("span", { class: "score", text: scoreText(list.map((x) => x[1])) + plural(ids.length) }));
    node.querySelector(".dot").style.color = codeColor(code);
    if (canCode) node.append(el("button", { type: "button", class: "nocode", "data-nocode": ids.join(","), title: "Reviewed: no code" + (ids.length > 1 ? ` (all ${ids.length})` : ""), text: "∅" }));
    return node;
  }
  function noCodeChip(ids) {
    const node = el("div", { class: "chip nocode", "data-segments": ids.join(","), "data-count": ids.length,
      title: "Reviewed: no code applies to " + (ids.length > 1 ? `these ${ids.length} sentences` : "this sentence") },
      el("span", { class: "dot", text: "∅" }), el("span", { class: "name", text: "reviewed: no code" + plural(ids.length) }));
    if (canCode) node.append(el("button", { type: "button", class: "undo", "data-nocode": ids.join(","), "data-undo": "1", title: "Withdraw", text: "↺" }));
    return node;
  }
  function chip(e, same) {
    const code = codes.get(e.code) || { name: "?" };
    const color = codeColor(code);
    if (isPending(e)) {
      const ids = (same || [e]).map((x) => x.id);
      const node = el("div", { class: "chip suggestion", "data-id": e.id, "data-ids": ids.join(","), "data-count": 1, title: (e.evidence || code.definition || "") },
        el("span", { class: "dot", text: "?" }),
        el("span", { class: "name", text: code.name }),
        el("span", { class: "score", text: scoreText([best(same || [e])]) }));
      node.querySelector(".dot").style.borderColor = color;
      if (canCode) node.append(...decideButtons(ids, ""));
      return node;
    }
    const node = el("div", { class: "chip coding", "data-id": e.id, title: code.definition || "" },
      el("span", { class: "dot" }), el("span", { class: "name", text: code.name }),
      el("span", { class: "by", text: coderName(e.coder) }));
    node.querySelector(".dot").style.backgroundColor = color;
    if (memosOn("coding", e.id).length) node.append(el("span", { class: "memo-flag", title: "has a memo", text: "✎" }));
    return node;
  }
  function renderAll() {
    const frag = document.createDocumentFragment();
    for (let i = 0; i < turns.length; i++) frag.append(renderTurn(i));
    transcript.replaceChildren(frag);
    dirty.clear();
    renderHooks.forEach((hook) => hook());
  }
  function flush() {
    if (!dirty.size) return;
    for (const index of dirty) {
      const old = $("turn-" + index);
      if (old) old.replaceWith(renderTurn(index));
    }
    dirty.clear();
    renderHooks.forEach((hook) => hook());
    drawHighlights();
    if (detailsAt !== null) showDetails(detailsAt);
    if (review) renderReview();
    renderDocMemos();
  }

  // ------------------------------------------------------------------ offsets <-> DOM
  function domPoint(offset) { // code point offset -> [text node, offset]
    const t = turnOf(offset);
    const row = $("turn-" + t);
    if (!row) return null;
    const spans = row.querySelectorAll(".turn-text .seg");
    for (const span of spans) {
      const a = +span.dataset.s, b = +span.dataset.e;
      if (offset >= a && offset <= b && span.firstChild) return [span.firstChild, u16(offset) - u16(a)];
    }
    const last = spans[spans.length - 1];
    return last && last.firstChild ? [last.firstChild, last.firstChild.length] : null;
  }
  function rangeOf(start, end) {
    const a = domPoint(start), b = domPoint(end);
    if (!a || !b) return null;
    const range = document.createRange();
    range.setStart(a[0], a[1]);
    range.setEnd(b[0], b[1]);
    return range;
  }
  function pointOffset(node, offset, isEnd) { // DOM point -> code point offset, or null
    let element = node.nodeType === 3 ? node.parentElement : node;
    if (node.nodeType === 3 && element.classList.contains("seg")) return cp(u16(+element.dataset.s) + offset);
    const row = element.closest && element.closest(".turn");
    if (!row) {
      if (element === transcript || transcript.contains(element)) {
        const child = transcript.children[Math.min(offset, transcript.children.length - 1)];
        if (!child) return null;
        const t = turns[+child.dataset.turn];
        return offset >= transcript.children.length ? t[1] : t[0];
      }
      return null;
    }
    const t = turns[+row.dataset.turn];
    if (element.closest(".speaker")) return t[0];
    if (element.closest(".margin")) return isEnd ? t[1] : t[0];
    if (element.classList.contains("turn-text")) {
      const child = element.childNodes[offset];
      return child && child.dataset ? +child.dataset.s : t[1];
    }
    return isEnd ? t[1] : t[0];
  }
  function trimmed(start, end) {
    while (start < end && /\s/.test(slice(start, start + 1))) start++;
    while (end > start && /\s/.test(slice(end - 1, end))) end--;
    return start < end ? { start, end } : null;
  }
  function readSelection() {
    const s = window.getSelection();
    if (!s || s.isCollapsed || !s.rangeCount) return null;
    const range = s.getRangeAt(0);
    if (!transcript.contains(range.commonAncestorContainer)) return null;
    const a = pointOffset(range.startContainer, range.startOffset, false);
    const b = pointOffset(range.endContainer, range.endOffset, true);
    if (a === null || b === null) return null;
    return trimmed(Math.min(a, b), Math.max(a, b));
  }
  function setSelection(next, { scroll = true, dom = true } = {}) {
    sel = next;
    drawHighlights();
    const info = $("selection-info");
    if (!sel) {
      info.textContent = changing ? "Pick the new code for the coding." : "Select text to code it.";
      info.className = "selection-info muted";
    } else {
      const excerpt = slice(sel.start, sel.end);
      info.textContent = `Selected ${sel.end - sel.start} characters: “${excerpt.length > 90 ? excerpt.slice(0, 87) + "…" : excerpt}”`;
      info.className = "selection-info";
      info.dataset.start = sel.start; info.dataset.end = sel.end;
      if (dom) {
        const range = rangeOf(sel.start, sel.end);
        if (range) {
          const s = window.getSelection();
          s.removeAllRanges(); s.addRange(range);
          if (scroll) range.startContainer.parentElement.scrollIntoView({ block: "nearest" });
        }
      }
    }
  }
  function drawHighlights() {
    if (!(window.CSS && CSS.highlights && window.Highlight)) return;
    CSS.highlights.delete("pending-selection");
    CSS.highlights.delete("review-current");
    if (sel) { const r = rangeOf(sel.start, sel.end); if (r) CSS.highlights.set("pending-selection", new Highlight(r)); }
    const current = currentEntry();
    if (current && (current.kind !== "s" || events.has(current.id))) {
      const [a, b] = entrySpan(current); const r = rangeOf(a, b); if (r) CSS.highlights.set("review-current", new Highlight(r));
    }
  }

  // ------------------------------------------------------------------ keyboard selection
  function segmentIndexAt(offset) {
    let lo = 0, hi = segments.length - 1, found = 0;
    while (lo <= hi) { const mid = (lo + hi) >> 1; if (segments[mid][0] <= offset) { found = mid; lo = mid + 1; } else hi = mid - 1; }
    return found;
  }
  function wordIndexAfter(offset) { // first uncertain word ending after offset
    let lo = 0, hi = words.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (words[mid][1] <= offset) lo = mid + 1; else hi = mid; }
    return lo;
  }
  function wordEdge(offset, direction) {
    const s = u16(offset);
    if (direction > 0) {
      const m = /^\s*\S+/.exec(text.slice(s, s + 400));
      return m ? cp(s + m[0].length) : offset;
    }
    const before = text.slice(Math.max(0, s - 400), s);
    const m = /\S+\s*$/.exec(before);
    return m ? cp(s - m[0].length) : offset;
  }
  function keyboardSelect(event) {
    if (!segments.length) return false;
    const key = event.key;
    if (key === "ArrowDown" || key === "ArrowUp") {
      const step = key === "ArrowDown" ? 1 : -1;
      if (event.shiftKey && sel) {
        const index = segmentIndexAt(Math.max(sel.start, sel.end - 1)) + step;
        if (index < 0 || index >= segments.length) return true;
        const end = segments[index][1];
        if (end > sel.start) setSelection({ start: sel.start, end });
        return true;
      }
      let index = sel ? segmentIndexAt(step > 0 ? Math.max(sel.start, sel.end - 1) : sel.start) + step : 0;
      index = Math.max(0, Math.min(segments.length - 1, index));
      setSelection({ start: segments[index][0], end: segments[index][1] });
      return true;
    }
    if ((key === "ArrowRight" || key === "ArrowLeft") && event.shiftKey && sel) {
      const direction = key === "ArrowRight" ? 1 : -1;
      let { start, end } = sel;
      if (event.altKey) start = wordEdge(start, direction); else end = wordEdge(end, direction);
      const next = trimmed(Math.max(0, start), Math.min(text.length + astralU16.length, end));
      if (next) setSelection(next);
      return true;
    }
    return false;
  }

  // ------------------------------------------------------------------ palette
  function paletteMatches() {
    const input = $("palette-filter");
    const query = input ? input.value.trim().toLowerCase() : "";
    return [...codes.values()].filter((c) => !query || c.name.toLowerCase().includes(query) || c.key.toLowerCase().includes(query)
      || (query.length > 2 && (c.definition || "").toLowerCase().includes(query)));
  }
  function renderPalette() {
    const list = $("palette-list");
    const matches = paletteMatches();
    paletteIndex = Math.max(0, Math.min(paletteIndex, matches.length - 1));
    list.replaceChildren(...matches.map((c, i) => {
      const item = el("li", { class: "code-item" + (i === paletteIndex ? " active" : ""), "data-key": c.key, title: c.definition || "" },
        canCode ? el("input", { type: "checkbox", class: "tick", "data-key": c.key, "aria-label": "tick " + c.name }) : null,
        el("span", { class: "dot" }), el("span", { class: "name", text: c.name }), el("span", { class: "key", text: c.key }));
      item.querySelector(".dot").style.backgroundColor = codeColor(c);
      item.style.paddingLeft = (0.3 + c.depth * 0.9) + "em";
      return item;
    }));
    $("palette-title").textContent = changing ? "Change the code to…" : "Codes";
  }
  async function applyCodes(keys) {
    if (!canCode || !keys.length) return;
    if (changing !== null) {
      const id = changing;
      changing = null;
      try {
        const data = await api("POST", `/api/codings/${id}/change`, { code: keys[0] });
        data.events.forEach(addEvent); flush();
        status(`Changed to ${codesByKey.get(keys[0]).name}`);
      } catch (error) { status(error.message, true); }
      renderPalette();
      return;
    }
    if (!sel) { status("Select some text first (mouse, or ↑ ↓ with Shift).", true); return; }
    try {
      const data = await api("POST", `/api/documents/${documentId}/codings`, { start: sel.start, end: sel.end, codes: keys });
      data.events.forEach(addEvent); flush();
      status(`Coded ${keys.map((k) => codesByKey.get(k).name).join(", ")}`);
    } catch (error) { status(error.message, true); }
  }
  function tickedKeys() { return [...document.querySelectorAll("#palette-list .tick:checked")].map((n) => n.dataset.key); }

  // ------------------------------------------------------------------ details (codings at a point)
  function showDetails(offset) {
    detailsAt = offset;
    const box = $("details");
    const t = turnOf(offset);
    const here = (buckets[t] || []).map((id) => events.get(id)).filter((e) => visibleItem(e) && e.start <= offset && e.end > offset);
    if (!here.length) { box.replaceChildren(); detailsAt = null; return; }
    box.replaceChildren(el("h2", { text: "Here" }), ...here.map(detailCard));
  }
  function detailCard(e) {
    const code = codes.get(e.code) || { name: "?" };
    const excerpt = slice(e.start, e.end);
    const card = el("div", { class: "card " + (isPending(e) ? "suggestion" : "coding"), "data-id": e.id },
      el("div", { class: "card-title" }, el("span", { class: "dot" }), el("strong", { text: code.name }),
        el("span", { class: "by", text: (isPending(e) ? " suggested by " : " by ") + coderName(e.coder) + (e.score !== null && isPending(e) ? ` (${e.score.toFixed(2)})` : "") })),
      el("blockquote", { text: excerpt.length > 240 ? excerpt.slice(0, 237) + "…" : excerpt }));
    card.querySelector(".dot").style.backgroundColor = codeColor(code);
    if (isPending(e) && e.evidence) card.append(el("p", { class: "evidence", text: e.evidence }));
    const list = el("div", { class: "memos" });
    for (const m of memosOn("coding", e.id)) list.append(memoNode(m));
    card.append(list);
    if (canCode) {
      if (isPending(e)) {
        card.append(el("div", { class: "actions" },
          el("button", { type: "button", "data-act": "accepted", "data-id": e.id, text: "Accept" }),
          el("button", { type: "button", "data-act": "rejected", "data-id": e.id, text: "Reject" })));
      } else {
        const form = el("form", { class: "memo-form coding-memo", "data-id": e.id },
          el("textarea", { rows: 2, placeholder: "Memo on this coding", "aria-label": "memo on this coding" }),
          el("button", { type: "submit", text: "Save memo" }));
        card.append(el("div", { class: "actions" },
          el("button", { type: "button", class: "remove", "data-remove": e.id, text: "Remove" }),
          el("button", { type: "button", class: "change", "data-change": e.id, text: "Change code…" })), form);
      }
    }
    return card;
  }
  function memoNode(m) {
    return el("div", { class: "memo", "data-id": m.id }, el("span", { class: "meta", text: `${coderName(m.author)} · ${m.created}` }), " ", m.body);
  }
  function renderDocMemos() {
    const box = $("doc-memos");
    const list = memosOn("document", documentId);
    box.replaceChildren(...(list.length ? list.map(memoNode) : [el("p", { class: "muted", text: "No memos yet." })]));
  }
  async function saveMemo(type, target, textarea) {
    const body = textarea.value.trim();
    if (!body) return;
    try {
      const data = await api("POST", `/api/projects/${projectId}/memos`, { target_type: type, target_id: target, text: body });
      addMemo([data.id, type, target, me.coder, body, new Date().toISOString().slice(0, 16).replace("T", " ")]);
      textarea.value = "";
      status("Memo saved");
      renderDocMemos();
      if (type === "coding") { const e = events.get(target); if (e) markDirty(e.start, e.end); flush(); }
    } catch (error) { status(error.message, true); }
  }

  // ------------------------------------------------------------------ decisions and removal
  async function decide(ids, action) {  // one suggestion, or all a grouped chip stands for (one transaction)
    ids = [].concat(ids);
    try {
      const data = ids.length === 1 ? await api("POST", `/api/suggestions/${ids[0]}/decide`, { action })
        : await api("POST", `/api/projects/${projectId}/suggestions/decide`, { ids, action });
      data.events.forEach(addEvent); flush();
      status((action === "accepted" ? "Accepted" : "Rejected") + (ids.length > 1 ? ` ${ids.length} suggestions` : ""));
      return true;
    } catch (error) { status(error.message, true); return false; }
  }
  const idsOf = (node) => (node.dataset.ids || node.dataset.id).split(",").map(Number);
  function setReviewState(data) {  // flags and "reviewed: no code" of this document, from the server
    const before = new Set([...flags.keys(), ...noCode]);
    flags.clear(); noCode.clear();
    for (const [segment, code, score] of data.flags || []) flags.set(segment, { code, score });
    for (const segment of data.no_code || []) noCode.add(segment);
    for (const segment of new Set([...before, ...flags.keys(), ...noCode])) {
      const s = segments.findIndex((x) => x[4] === segment);
      if (s >= 0) markDirty(segments[s][0], segments[s][1]);
    }
  }
  async function markNoCode(segmentIds, undo) {
    try {
      setReviewState(await api("POST", `/api/documents/${documentId}/no-code`, { segments: segmentIds, undo: !!undo }));
      flush();
      status(undo ? "Withdrawn: the sentence is open again" : `Reviewed: no code (${segmentIds.length} sentence${segmentIds.length > 1 ? "s" : ""})`);
      return true;
    } catch (error) { status(error.message, true); return false; }
  }
  function selectedSegmentIds() {
    if (!sel || !segments.length) return [];
    const found = [];
    for (let s = segmentIndexAt(sel.start); s < segments.length && segments[s][0] < sel.end; s++) {
      if (segments[s][1] > sel.start && segments[s][4] !== undefined) found.push(segments[s][4]);
    }
    return found;
  }
  async function removeCoding(id) {
    try {
      const data = await api("POST", `/api/codings/${id}/remove`);
      data.events.forEach(addEvent); flush();
      status("Coding removed");
    } catch (error) { status(error.message, true); }
  }

  // ------------------------------------------------------------------ review mode
  // Ordered by the expected value of a decision (services.active.stored_queue, the rule of `chimeqda next`):
  // per sentence its open suggestions (least sure first), then its flag (no suggestion, a code fairly likely).
  function flagOpen(segment) {
    if (noCode.has(segment) || !flags.has(segment)) return false;
    const unit = segments.find((x) => x[4] === segment);
    if (!unit) return false;
    return !(buckets[turnOf(unit[0])] || []).map((id) => events.get(id))
      .some((e) => visibleItem(e) && e.start < unit[1] && e.end > unit[0]);
  }
  const entryOpen = (x) => (x.kind === "s" ? events.has(x.id) && isPending(events.get(x.id)) : flagOpen(x.segment));
  const entrySpan = (x) => (x.kind === "s" ? [events.get(x.id).start, events.get(x.id).end] : [x.start, x.end]);
  const currentEntry = () => (review && review.index >= 0 ? review.entries[review.index] : null);
  function pendingList() { return review ? review.entries.filter(entryOpen) : []; }
  async function startReview() {
    if (!canCode) return;
    let queue = [];
    try { queue = (await api("GET", `/api/documents/${documentId}/review-queue`)).queue; } catch (error) { status(error.message, true); }
    const entries = [], seen = new Set();
    for (const item of queue) {
      for (const id of item.suggestions) { entries.push({ kind: "s", id, value: item.value }); seen.add(id); }
      if (item.flag) entries.push({ kind: "f", segment: item.segment, start: item.start, end: item.end, code: item.flag.code, score: item.flag.score, value: item.value });
    }
    const later = [...events.values()].filter((e) => isPending(e) && !seen.has(e.id)).sort((a, b) => a.start - b.start || a.id - b.id);
    for (const e of later) entries.push({ kind: "s", id: e.id, value: null });  // arrived after the queue was read
    review = { entries, index: entries.findIndex(entryOpen) };
    $("review").hidden = false;
    root.classList.add("reviewing");
    renderReview(); scrollToCurrent();
  }
  function stopReview() {
    review = null;
    $("review").hidden = true;
    root.classList.remove("reviewing");
    drawHighlights();
    transcript.focus();
  }
  function moveReview(step) {
    const n = review.entries.length;
    let index = review.index;
    for (let tries = 0; tries < n; tries++) {
      index = ((index < 0 ? (step > 0 ? -1 : 0) : index) + step + n) % n;
      if (entryOpen(review.entries[index])) { review.index = index; renderReview(); scrollToCurrent(); return; }
    }
    review.index = -1; renderReview();
  }
  function scrollToCurrent() {
    const x = currentEntry();
    if (!x) return;
    const row = $("turn-" + turnOf(entrySpan(x)[0]));
    if (row) row.scrollIntoView({ block: "center" });
    drawHighlights();
  }
  function renderReview() {
    const box = $("review");
    const list = pendingList();
    const x = currentEntry();
    if (!x) {
      box.replaceChildren(el("h2", { text: "Review" }), el("p", { text: "Nothing left to review in this document." }),
        el("button", { type: "button", "data-review": "stop", text: "Done (Esc)" }));
      drawHighlights();
      return;
    }
    const e = x.kind === "s" ? events.get(x.id) : null;
    const code = (e ? codes.get(e.code) : codesByKey.get(x.code)) || { name: "?" };
    const position = list.indexOf(x) + 1;
    const worth = x.value === null ? "" : ` · worth ${x.value.toFixed(2)}`;
    const what = e ? el("span", { class: "score", text: (e.score === null ? "" : ` probability ${e.score.toFixed(2)}`) + worth })
      : el("span", { class: "score", text: ` probability ${x.score.toFixed(2)}${worth}` });
    box.replaceChildren(...[
      el("h2", { text: `Review · ${position || "–"} of ${list.length} open` }),
      e ? null : el("p", { class: "flag-note", text: "No suggestion here, but the machine thinks this code fairly likely:" }),
      el("div", { class: "review-code" }, el("span", { class: "dot" }), el("strong", { text: code.name }), what),
      el("p", { class: "definition", text: code.definition || "" }),
      e ? reviewExcerpt(e) : el("blockquote", { class: "review-text", text: slice(x.start, x.end) }),
      e && e.evidence ? el("p", { class: "evidence", text: e.evidence }) : null,
      entryOpen(x) ? null : el("p", { class: "muted", text: "Decided." }),
      el("div", { class: "actions" },
        el("button", { type: "button", "data-review": "accepted", text: e ? "Accept (a)" : `Code it ${code.name} (a)` }),
        el("button", { type: "button", "data-review": "rejected", text: e ? "Reject (x)" : "Reviewed: no code (x)" }),
        el("button", { type: "button", "data-review": "skip", text: "Skip (s)" }),
        el("button", { type: "button", "data-review": "prev", text: "Previous (p)" }),
        el("button", { type: "button", "data-review": "stop", text: "Stop (Esc)" }))].filter(Boolean));
    box.querySelector(".dot").style.backgroundColor = codeColor(code);
    drawHighlights();
  }
  function reviewExcerpt(e) {
    // The segment is the unit of review: a suggestion naming words inside it (an LLM's quote)
    // shows the whole sentence with those words marked.
    const excerpt = slice(e.start, e.end);
    const unit = segments.length ? segments[segmentIndexAt(e.start)] : null;
    if (!unit || unit[0] > e.start || unit[1] < e.end || (unit[0] === e.start && unit[1] === e.end)) {
      const shown = excerpt.length > 400 ? excerpt.slice(0, 397) + "…" : excerpt;
      return el("blockquote", { class: "review-text", text: shown });
    }
    return el("blockquote", { class: "review-text" },
      slice(unit[0], e.start), el("mark", { class: "review-quote", text: excerpt }), slice(e.end, unit[1]));
  }
  async function reviewAction(action) {
    if (!review) return;
    if (action === "stop") return stopReview();
    if (action === "prev") return moveReview(-1);
    if (action === "skip" || action === "next") return moveReview(1);
    const x = currentEntry();
    if (!x) return;
    let done;
    if (x.kind === "s") done = await decide(x.id, action);
    else if (action === "rejected") done = await markNoCode([x.segment]);
    else {
      try {
        const data = await api("POST", `/api/documents/${documentId}/codings`, { start: x.start, end: x.end, codes: [x.code] });
        data.events.forEach(addEvent); flush(); status(`Coded ${(codesByKey.get(x.code) || {}).name}`); done = true;
      } catch (error) { status(error.message, true); }
    }
    if (done) moveReview(1);
  }

  // ------------------------------------------------------------------ events from the page
  transcript.addEventListener("mouseup", () => {
    setTimeout(() => {
      const found = readSelection();
      if (found) { setSelection(found, { dom: false }); return; }
      const s = window.getSelection();
      if (s && s.isCollapsed && s.anchorNode && transcript.contains(s.anchorNode)) {
        const offset = pointOffset(s.anchorNode, s.anchorOffset, false);
        if (offset !== null) showDetails(offset);
      }
    }, 0);
  });
  transcript.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-act]");
    if (button) { decide(idsOf(button), button.dataset.act); return; }
    const toggle = event.target.closest("button[data-expand]");
    if (toggle) {
      const key = toggle.dataset.expand;
      if (expanded.has(key)) expanded.delete(key); else expanded.add(key);
      dirty.add(+key.split(":")[0]); flush(); return;
    }
    const mark = event.target.closest("button[data-nocode]");
    if (mark) { markNoCode(mark.dataset.nocode.split(",").map(Number), mark.dataset.undo === "1"); return; }
    const chipNode = event.target.closest(".chip");
    if (chipNode) { const e = events.get(+chipNode.dataset.id); if (e) { showDetails(e.start); setSelection(null); } }
  });
  $("side").addEventListener("click", (event) => {
    const target = event.target;
    if (target.closest("[data-review]")) { reviewAction(target.closest("[data-review]").dataset.review); return; }
    if (target.dataset.act) { decide(idsOf(target), target.dataset.act); return; }
    if (target.id === "no-code") {
      const ids = selectedSegmentIds();
      if (!ids.length) { status("Select the sentence(s) first (↑ ↓).", true); return; }
      markNoCode(ids); return;
    }
    if (target.dataset.remove) { removeCoding(+target.dataset.remove); return; }
    if (target.dataset.change) {
      changing = +target.dataset.change; renderPalette();
      const input = $("palette-filter"); if (input) { input.value = ""; input.focus(); }
      status("Pick the new code (type, Enter)"); return;
    }
    if (target.id === "review-start") { startReview(); return; }
    if (target.id === "apply-ticked") { applyCodes(tickedKeys()).then(clearTicks); return; }
    if (target.classList.contains("tick")) { $("apply-ticked").hidden = !tickedKeys().length; return; }
    const item = target.closest(".code-item");
    if (item && canCode) applyCodes([item.dataset.key]);
  });
  function clearTicks() {
    document.querySelectorAll("#palette-list .tick:checked").forEach((n) => { n.checked = false; }); if ($("apply-ticked")) $("apply-ticked").hidden = true;
  }
  $("side").addEventListener("submit", (event) => {
    const form = event.target.closest(".coding-memo");
    if (!form) return;
    event.preventDefault();
    saveMemo("coding", +form.dataset.id, form.querySelector("textarea"));
  });
  const docMemoForm = $("doc-memo-form");
  if (docMemoForm) docMemoForm.addEventListener("submit", (event) => { event.preventDefault(); saveMemo("document", documentId, $("doc-memo-text")); });

  const filter = $("palette-filter");
  if (filter) {
    filter.addEventListener("input", () => { paletteIndex = 0; renderPalette(); });
    filter.addEventListener("keydown", (event) => {
      const matches = paletteMatches();
      if (event.key === "ArrowDown") { paletteIndex = Math.min(paletteIndex + 1, matches.length - 1); renderPalette(); event.preventDefault(); }
      else if (event.key === "ArrowUp") { paletteIndex = Math.max(paletteIndex - 1, 0); renderPalette(); event.preventDefault(); }
      else if (event.key === "Enter") {
        event.preventDefault();
        const keys = tickedKeys();
        if (matches[paletteIndex] && !keys.includes(matches[paletteIndex].key) && (!keys.length || filter.value.trim())) keys.push(matches[paletteIndex].key);
        applyCodes(keys).then(() => { clearTicks(); filter.value = ""; paletteIndex = 0; renderPalette(); });
      } else if (event.key === "Escape") {
        event.preventDefault(); filter.value = ""; changing = null; renderPalette(); transcript.focus();
        if (sel) setSelection(sel, { scroll: false });
      }
    });
  }
  document.addEventListener("keydown", (event) => {
    const tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select" || event.ctrlKey || event.metaKey) return;
    if (review) {
      const map = { n: "next", j: "next", ArrowDown: "next", p: "prev", k: "prev", ArrowUp: "prev", a: "accepted", x: "rejected", s: "skip", Escape: "stop" };
      if (map[event.key]) { event.preventDefault(); reviewAction(map[event.key]); }
      return;
    }
    if (keyboardSelect(event)) { event.preventDefault(); return; }
    if (event.key === "Escape") { setSelection(null); window.getSelection().removeAllRanges(); return; }
    if (!sel && event.key === "r" && canCode) { event.preventDefault(); startReview(); return; }
    if (canCode && filter && event.key.length === 1 && !event.altKey && /\S/.test(event.key)) {
      event.preventDefault();
      filter.focus();
      filter.value += event.key;
      paletteIndex = 0; renderPalette();
    }
  });

  // ------------------------------------------------------------------ loading and polling
  function renderParticipant(participant) {
    const box = $("attributes");
    if (!participant) { box.replaceChildren(el("dd", { class: "muted", text: "No participant linked." })); return; }
    const rows = [el("dt", { text: "participant" }), el("dd", { text: participant.label })];
    for (const [k, v] of Object.entries(participant.attributes || {})) rows.push(el("dt", { text: k.replace(/_/g, " ") }), el("dd", { text: String(v) }));
    box.replaceChildren(...rows);
  }
  async function load() {
    const started = performance.now();
    const data = await api("GET", `/api/documents/${documentId}`);
    text = data.text; turns = data.turns; segments = data.segments; me = data.me;
    words = data.words || []; timed = segments.some((s) => s[2] !== null && s[2] !== undefined);
    if (!turns.length) turns = [[0, data.document.length, "", "other"]];
    for (let i = 0, c = 0; i < text.length; i++, c++) {
      const code = text.charCodeAt(i);
      if (code >= 0xd800 && code <= 0xdbff) { astralCp.push(c); astralU16.push(i); i++; }
    }
    let rootIndex = 0;
    const depth = new Map();
    for (const [id, key, name, color, parent, definition] of data.codes) {
      const d = parent && depth.has(parent) ? depth.get(parent) + 1 : 0;
      depth.set(key, d);
      const code = { id, key, name, color, parent, definition, depth: d, rootIndex: parent ? 0 : rootIndex++ };
      codes.set(id, code); codesByKey.set(key, code);
    }
    addCoders(data.coders);
    for (let i = 0; i < turns.length; i++) buckets.push([]);
    data.events.forEach(addEvent);
    data.memos.forEach(addMemo);
    setReviewState(data);
    cursor = data.cursor; memoCursor = data.memo_cursor;
    renderParticipant(data.participant);
    renderAll(); renderPalette(); renderDocMemos();
    loadHooks.forEach((hook) => hook(data));
    root.dataset.loaded = "1";
    root.dataset.loadMs = Math.round(performance.now() - started);
    root.dataset.readyAt = Math.round(performance.now());  // since navigation start
    if (data.me.hides_others) status("Blind coding: you see your own codings and the machine's suggestions.");
    setTimeout(poll, pollMs);
  }
  async function poll() {
    try {
      const data = await api("GET", `/api/documents/${documentId}/events?after=${cursor}&memos_after=${memoCursor}`);
      addCoders(data.coders);
      data.events.forEach(addEvent);
      const newMemos = data.memos.filter((m) => !memos.has(m[0]));
      newMemos.forEach(addMemo);
      cursor = Math.max(cursor, data.cursor); memoCursor = Math.max(memoCursor, data.memo_cursor);
      if (newMemos.length) { renderDocMemos(); if (detailsAt !== null) showDetails(detailsAt); }
      flush(); root.dataset.synced = String(Date.now());
      if (pollHooks.some((hook) => hook(data) === false)) return;  // e.g. the transcript was corrected: stop
    } catch (error) {
      if (error.message !== "logged out") status("Connection lost; retrying…", true);
    }
    setTimeout(poll, pollMs);
  }
  // ------------------------------------------------------------------ for player.js, speakers.js, corrections.js
  const loadHooks = [], renderHooks = [], pollHooks = [];
  window.chimeqdaDocument = {
    documentId, projectId, canCode, root, transcript, el, api, status, segmentIndexAt, turnOf, slice,
    get turns() { return turns; }, get segments() { return segments; }, get selection() { return sel; },
    onLoad(hook) { loadHooks.push(hook); }, onRender(hook) { renderHooks.push(hook); }, onPoll(hook) { pollHooks.push(hook); },
    redrawTurn(index) { dirty.add(index); flush(); },
  };
  load().catch((error) => { transcript.replaceChildren(el("p", { class: "error", text: "Could not load the document: " + error.message })); });
})();
