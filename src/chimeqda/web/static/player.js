// The recording of a transcript in the document view: a player above the transcript,
// clicking a sentence plays from its start, the sentence being played is highlighted,
// and function keys work as in f4/Express Scribe (they type nothing, so they never
// clash with the coding keys and work while typing a memo or filtering codes):
//   F4 play / pause · F9 play the selected sentence from its start · F7 back 5 s · F8 forward 5 s
//   F2 slower · F3 faster
// Times come from the document payload: segments are [start, end, timeStart, timeEnd],
// turns [start, end, speaker, role, time, timeEnd] (seconds, or null when unknown).
(function () {
  "use strict";
  const doc = window.chimeqdaDocument;
  if (!doc) return;
  const SKIP = 5, RATES = [0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.1, 1.25, 1.5, 1.75, 2];
  const el = doc.el, bar = document.getElementById("player");
  let audio = null, starts = [], timeline = [], playing = -1, clickPlays = true, follow = true;

  doc.onLoad((data) => { if (data.media && bar) build(data.media); });
  doc.onRender(() => { if (audio) mark(playing, false); });

  function build(media) {
    if (!media.available) {
      bar.replaceChildren(el("p", { class: "muted", text: `The recording ${media.original_name} is not in this server's project folder (start chimeqda serve -p with the folder that holds media/).` }));
      bar.hidden = false;
      return;
    }
    starts = sentenceStarts();
    timeline = starts.map((time, index) => [time, index]).filter((pair) => pair[0] !== null).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    audio = el("audio", { id: "player-audio", controls: true, preload: "metadata", src: media.url });
    const rate = el("span", { id: "player-rate", class: "rate", text: "1.0×", title: "Playback speed (F2 slower, F3 faster)" });
    const toggle = (label, title, initial, set) => {
      const box = el("input", { type: "checkbox" });
      box.checked = initial;
      box.addEventListener("change", () => set(box.checked));
      return el("label", { class: "toggle", title }, box, " " + label);
    };
    bar.replaceChildren(audio,
      el("button", { type: "button", "data-player": "back", title: "Back 5 seconds (F7)", text: "−5 s" }),
      el("button", { type: "button", "data-player": "slower", title: "Slower (F2)", text: "−" }), rate,
      el("button", { type: "button", "data-player": "faster", title: "Faster (F3)", text: "+" }),
      toggle("click plays", "Clicking a sentence plays the recording from its start", clickPlays, (v) => { clickPlays = v; }),
      toggle("follow", "Scroll to the sentence being played", follow, (v) => { follow = v; }));
    bar.hidden = false;
    doc.root.classList.add("has-recording");
    bar.addEventListener("click", (event) => {
      const action = event.target.dataset && event.target.dataset.player;
      if (action) act(action);
    });
    audio.addEventListener("ratechange", () => { rate.textContent = audio.playbackRate.toFixed(audio.playbackRate * 10 % 1 ? 2 : 1) + "×"; });
    const resume = /[#&]t=([0-9.]+)/.exec(window.location.hash);  // back from a correction: the same place
    if (resume) audio.addEventListener("loadedmetadata", () => { audio.currentTime = +resume[1]; }, { once: true });
    audio.addEventListener("timeupdate", update);
    audio.addEventListener("seeked", update);
    audio.addEventListener("error", () => doc.status("The recording could not be played: " + (audio.error && audio.error.message || "unknown error"), true));
  }

  // the start time of every sentence: its own, else (first sentence of a turn) the turn's
  function sentenceStarts() {
    const turns = doc.turns;
    return doc.segments.map((segment, index) => {
      if (segment[2] !== null && segment[2] !== undefined) return segment[2];
      const turn = turns[doc.turnOf(segment[0])];
      const first = index === 0 || doc.segments[index - 1][1] <= turn[0];
      return first && turn[4] !== null && turn[4] !== undefined ? turn[4] : null;
    });
  }
  function sentenceAt(seconds) { // the last sentence starting at or before `seconds`, or -1
    let lo = 0, hi = timeline.length - 1, found = -1;
    while (lo <= hi) { const mid = (lo + hi) >> 1; if (timeline[mid][0] <= seconds + 0.001) { found = mid; lo = mid + 1; } else hi = mid - 1; }
    return found < 0 ? -1 : timeline[found][1];
  }
  function mark(index, scroll) {
    doc.transcript.querySelectorAll(".seg.playing").forEach((node) => node.classList.remove("playing"));
    playing = index;
    doc.root.dataset.playing = index;
    if (index < 0) return;
    const spans = doc.transcript.querySelectorAll(`.seg[data-seg="${index}"]`);
    spans.forEach((node) => node.classList.add("playing"));
    if (scroll && follow && spans.length && !audio.paused) spans[0].scrollIntoView({ block: "nearest" });
  }
  function update() {
    const index = sentenceAt(audio.currentTime);
    if (index !== playing) mark(index, true);
  }
  function playFrom(index) {
    if (starts[index] === null || starts[index] === undefined) { doc.status("This sentence has no time in the recording.", true); return; }
    audio.currentTime = starts[index];
    mark(index, false);
    const started = audio.play();
    if (started && started.catch) started.catch((error) => { if (error.name !== "AbortError") doc.status("Could not play: " + error.message, true); });
  }
  function act(action) {
    if (!audio) return;
    if (action === "toggle") { if (audio.paused) audio.play().catch(() => {}); else audio.pause(); }
    else if (action === "sentence") {
      const chosen = doc.selection;
      if (chosen) playFrom(doc.segmentIndexAt(chosen.start)); else act("toggle");
    }
    else if (action === "back") audio.currentTime = Math.max(0, audio.currentTime - SKIP);
    else if (action === "forward") audio.currentTime = Math.min(audio.duration || Infinity, audio.currentTime + SKIP);
    else if (action === "slower" || action === "faster") {
      const now = RATES.findIndex((r) => r >= audio.playbackRate - 0.001);
      const next = Math.max(0, Math.min(RATES.length - 1, (now < 0 ? RATES.length - 1 : now) + (action === "faster" ? 1 : -1)));
      audio.playbackRate = RATES[next];
    }
  }

  doc.transcript.addEventListener("click", (event) => {
    if (!audio || !clickPlays || event.shiftKey || event.altKey || event.ctrlKey || event.metaKey) return;
    const span = event.target.closest(".seg[data-seg]");
    const chosen = window.getSelection();
    if (!span || (chosen && !chosen.isCollapsed)) return;  // a drag selects text to code, it does not play
    playFrom(+span.dataset.seg);
  });
  const KEYS = { F4: "toggle", F9: "sentence", F7: "back", F8: "forward", F2: "slower", F3: "faster" };
  document.addEventListener("keydown", (event) => {
    const action = KEYS[event.key];
    if (!audio || !action || event.ctrlKey || event.metaKey || event.altKey) return;
    event.preventDefault();
    act(action);
  });
})();
