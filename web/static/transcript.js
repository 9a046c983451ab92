// Transcript panel from the caption WebVTT: every cue with its time, the current cue
// highlighted and kept in view while the recording plays (not while the viewer scrolls
// the panel), a click on a cue seeks there, a search box filters the cues. The panel shows
// the captions the viewer picks in the player (its captions menu or the "c" key); the
// panel's own language list picks the player's captions too. Captions turned off leave
// the panel in the last language shown.
(function () {
  "use strict";
  var list = document.getElementById("transcript-cues");
  var media = document.getElementById("player");
  if (!list || !media) return;
  var filter = document.getElementById("transcript-filter");
  var lang = document.getElementById("transcript-lang");
  var cues = [];      // {start, end, text, el}
  var active = null;
  var userScrollUntil = 0;

  function seconds(stamp) {
    var p = stamp.split(":").map(parseFloat);
    return p.length === 3 ? p[0] * 3600 + p[1] * 60 + p[2] : p[0] * 60 + p[1];
  }
  function label(t) {
    var s = Math.floor(t), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    var ss = String(s % 60).padStart(2, "0");
    return h ? h + ":" + String(m).padStart(2, "0") + ":" + ss : m + ":" + ss;
  }
  function plain(text) {
    // Cue text may carry voice and styling tags (<v Ana>, <i>): keep the words, and the voice's name.
    var voice = /^<v(?:\.[^ >]*)? ([^>]+)>/.exec(text);
    var words = text.replace(/<[^>]*>/g, "").replace(/&amp;/g, "&").replace(/&lt;/g, "<")
      .replace(/&gt;/g, ">").replace(/&nbsp;/g, " ");
    return { voice: voice ? voice[1] : "", words: words };
  }

  function parse(vtt) {
    var out = [];
    vtt.replace(/\r\n?/g, "\n").split(/\n{2,}/).forEach(function (block) {
      var lines = block.split("\n");
      var i = lines.findIndex(function (l) { return l.indexOf("-->") >= 0; });
      if (i < 0) return;
      var m = /([\d:.]+)\s+-->\s+([\d:.]+)/.exec(lines[i]);
      if (!m) return;
      var text = lines.slice(i + 1).join(" ").trim();
      if (text) out.push({ start: seconds(m[1]), end: seconds(m[2]), text: text });
    });
    return out;
  }

  function render(items) {
    list.replaceChildren();
    cues = items.map(function (c) {
      var li = document.createElement("li");
      var b = document.createElement("button");
      b.type = "button";
      b.className = "cue";
      b.dataset.seek = String(c.start);   // player.js seeks on any [data-seek] click
      var time = document.createElement("span");
      time.className = "time";
      time.textContent = label(c.start);
      var p = plain(c.text);
      var text = document.createElement("span");
      text.className = "text";
      if (p.voice) {
        var who = document.createElement("b");
        who.textContent = p.voice + ": ";
        text.appendChild(who);
      }
      text.appendChild(document.createTextNode(p.words));
      b.append(time, text);
      li.appendChild(b);
      list.appendChild(li);
      return { start: c.start, end: c.end, search: (p.voice + " " + p.words).toLowerCase(), el: li };
    });
    active = null;
    applyFilter();
    follow();
  }

  var shownSrc = null;
  function load(src) {
    if (!src || src === shownSrc) return;
    shownSrc = src;
    list.dataset.src = src;
    list.dataset.state = "loading";
    fetch(src, { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
      .then(function (text) { render(parse(text)); list.dataset.state = "ready"; })
      .catch(function () {
        list.dataset.state = "failed";
        list.textContent = list.dataset.failed || "The transcript could not be loaded.";
      });
  }

  function applyFilter() {
    var q = filter ? filter.value.trim().toLowerCase() : "";
    var shown = 0;
    cues.forEach(function (c) {
      var hit = !q || c.search.indexOf(q) >= 0;
      c.el.hidden = !hit;
      if (hit) shown += 1;
    });
    list.dataset.shown = String(shown);
  }

  function follow() {
    var t = media.currentTime;
    var now = null;
    for (var i = 0; i < cues.length; i++) {
      if (cues[i].start <= t && t < cues[i].end) { now = cues[i]; break; }
      if (cues[i].start > t) break;
    }
    if (now === active) return;
    if (active) active.el.classList.remove("current");
    active = now;
    if (!now) return;
    now.el.classList.add("current");
    if (Date.now() > userScrollUntil && !now.el.hidden) {
      // Scroll the panel only, never the page. The list is positioned, so a cue's
      // offsetTop is already measured from the list's top.
      var top = now.el.offsetTop - list.clientHeight / 3;
      list.scrollTo({ top: Math.max(0, top), behavior: "smooth" });
    }
  }

  // The viewer's own scrolling pauses following for a while.
  ["wheel", "touchmove", "pointerdown"].forEach(function (type) {
    list.addEventListener(type, function () { userScrollUntil = Date.now() + 4000; }, { passive: true });
  });
  list.addEventListener("keydown", function (e) {
    if (/^(Arrow|Page|Home|End)/.test(e.key)) userScrollUntil = Date.now() + 4000;
  });
  media.addEventListener("timeupdate", follow);
  media.addEventListener("seeked", function () { userScrollUntil = 0; follow(); });
  if (filter) filter.addEventListener("input", applyFilter);
  // -- which captions: the <track> elements carry the same URLs as the panel's list ----
  var tracks = Array.prototype.slice.call(media.querySelectorAll("track[kind=captions], track[kind=subtitles]"));
  function trackSrc(textTrack) {
    var el = tracks.find(function (t) { return t.track === textTrack; });
    return el ? el.getAttribute("src") : null;
  }
  function followPlayer() {
    var showing = Array.prototype.find.call(media.textTracks, function (t) {
      return (t.kind === "captions" || t.kind === "subtitles") && t.mode === "showing";
    });
    var src = showing ? trackSrc(showing) : null;
    if (!src) return;
    if (lang) lang.value = src;
    list.dataset.lang = showing.language;
    load(src);
  }
  if (media.textTracks) media.textTracks.addEventListener("change", followPlayer);
  if (lang) lang.addEventListener("change", function () {
    // The panel's choice becomes the player's captions, if they are on.
    var el = tracks.find(function (t) { return t.getAttribute("src") === lang.value; });
    var on = Array.prototype.some.call(media.textTracks, function (t) { return t.mode === "showing"; });
    if (el && on) {
      Array.prototype.forEach.call(media.textTracks, function (t) {
        if ((t.kind === "captions" || t.kind === "subtitles") && t !== el.track) t.mode = "disabled";
      });
      el.track.mode = "showing";
    }
    list.dataset.lang = el ? el.getAttribute("srclang") : "";
    load(lang.value);
  });
  load(list.dataset.src);
  followPlayer();
})();
