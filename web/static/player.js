// Plays a webinar inside media-chrome's controls: HLS through hls.js where Media Source
// Extensions exist, the browser's own HLS elsewhere (Safari, iOS), the faststart MP4 (or
// the M4A of an audio-only webinar) as the fallback.
//
// ?engine=hlsjs|native|mp4 picks the engine (tests force hls.js: Debian's chromium also
// plays HLS natively). ?t=90, ?t=1m30s, ?t=1:30 and #t=90 start at that time.
// Presigned links live minutes (data-link-seconds), so that an unpublished webinar soon
// stops playing: the player renews them while it plays (see "links that renew" below), and
// should one fail all the same, it asks the app again and carries on where it was.
(function () {
  "use strict";
  var media = document.getElementById("player");
  if (!media) return;
  var hlsUrl = media.dataset.hls;
  var mp4Url = media.dataset.mp4;
  // A recording still being encoded: its playlist grows (data-growing: its URL).
  var growingUrl = media.dataset.growing;
  var params = new URLSearchParams(window.location.search);
  var engine = params.get("engine") || (params.has("mp4") ? "mp4" : params.has("native") ? "native" : "");

  // -- times -------------------------------------------------------------------------
  function parseTime(value) {
    if (!value) return null;
    value = String(value).trim();
    var m;
    if ((m = /^(\d+(?:\.\d+)?)s?$/.exec(value))) return parseFloat(m[1]);
    if ((m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$/.exec(value)) && value) {
      return (parseInt(m[1] || "0", 10) * 3600) + (parseInt(m[2] || "0", 10) * 60) + parseFloat(m[3] || "0");
    }
    if ((m = /^(?:(\d+):)?(\d+):(\d+(?:\.\d+)?)$/.exec(value))) {
      return (parseInt(m[1] || "0", 10) * 3600) + (parseInt(m[2], 10) * 60) + parseFloat(m[3]);
    }
    return null;
  }
  function formatTime(seconds) {
    var s = Math.floor(seconds || 0), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    var ss = String(s % 60).padStart(2, "0");
    return h ? h + ":" + String(m).padStart(2, "0") + ":" + ss : m + ":" + ss;
  }
  var hash = new URLSearchParams(window.location.hash.replace(/^#/, ""));
  var startAt = parseTime(params.get("t")) || parseTime(hash.get("t")) || 0;

  function seekWhenReady(t, play) {
    function go() {
      media.currentTime = t;
      if (play) media.play().catch(function () {});
    }
    if (media.readyState >= 1) go();
    else media.addEventListener("loadedmetadata", go, { once: true });
  }

  // -- links that renew ------------------------------------------------------------------
  // A link is renewed before its last `margin` ms: enough for clocks that differ a little.
  var linkMs = (parseFloat(media.dataset.linkSeconds) || 0) * 1000;
  var renewals = 0;
  function margin(validMs) { return Math.min(validMs / 2, Math.max(2000, validMs / 5)); }
  // When to replace a whole source whose links stay valid `validMs`: never more often than
  // every 5 s, as a reload takes a moment (links shorter than that are recovered on error).
  function renewIn(validMs) { return Math.max(5000, validMs - margin(validMs)); }
  function renewed() {
    renewals += 1;
    media.dataset.renewals = String(renewals);
  }
  function fresh(url) { return url + (url.indexOf("?") < 0 ? "?" : "&") + "fresh=" + Date.now(); }
  function withoutQuery(url) { return url.split("?")[0]; }

  // hls.js: each media playlist (an app URL) says how long its links stay valid
  // (X-Links-Valid-For). Before a segment is fetched with a link near its end, the playlist
  // is fetched afresh and the segment with its new link: no error, no stall. Links are
  // matched by object (the URL without its signature).
  var playlists = {};  // playlist URL -> {until, validMs, urls: {object URL: signed URL}, pending}
  function renewPlaylist(url) {
    var entry = playlists[url] || (playlists[url] = { until: 0, validMs: 0, urls: {}, pending: null });
    if (!entry.pending) {
      var asked = performance.now();
      entry.pending = fetch(url, { cache: "no-store", credentials: "same-origin" }).then(function (r) {
        if (!r.ok) throw new Error("playlist " + r.status);
        var valid = parseFloat(r.headers.get("X-Links-Valid-For"));
        return r.text().then(function (text) {
          var urls = {};
          text.split("\n").forEach(function (line) {
            var quoted = /URI="([^"]+)"/.exec(line);
            var uri = line && line.charAt(0) !== "#" ? line.trim() : quoted ? quoted[1] : "";
            var link = uri && new URL(uri, url).href;
            if (link) urls[withoutQuery(link)] = link;
          });
          entry.urls = urls;
          entry.validMs = isNaN(valid) ? Infinity : valid * 1000;  // none: links that do not expire
          entry.until = asked + entry.validMs;
          renewed();
        });
      }).finally(function () { entry.pending = null; });
    }
    return entry.pending;
  }
  function freshLink(playlist, url) {
    var entry = playlists[playlist];
    var good = entry && entry.until - performance.now() > (isFinite(entry.validMs) ? margin(entry.validMs) : 0);
    return (good ? Promise.resolve() : renewPlaylist(playlist)).then(function () {
      return playlists[playlist].urls[withoutQuery(url)] || url;
    }, function () { return url; });  // the app cannot be asked: hls.js reports what fails next
  }
  // hls.js's fragment loader, fetching with the freshest link of the fragment's playlist.
  function renewingLoader(Base) {
    return class extends Base {
      load(context, config, callbacks) {
        var frag = context.frag;
        var waiting = this.waiting = { context: context, callbacks: callbacks };
        var start = (url) => {
          if (this.waiting !== waiting) return;  // aborted meanwhile
          this.waiting = null;
          context.url = url;
          super.load(context, config, callbacks);
        };
        if (frag && frag.baseurl && linkMs) freshLink(frag.baseurl, context.url).then(start);
        else start(context.url);
      }
      abort() {
        var waiting = this.waiting;
        this.waiting = null;
        super.abort();
        if (waiting && waiting.callbacks.onAbort) waiting.callbacks.onAbort(this.stats, waiting.context, null);
      }
      destroy() {
        this.waiting = null;
        super.destroy();
      }
    };
  }

  // The MP4 (and the browser's own HLS): its src, an app route, redirects to a link valid
  // at least half the lifetime (a redirect the browser cached: a quarter). While it plays
  // the src is swapped for a fresh one before then, keeping the time, rate and play state.
  var srcUntil = 0, srcWatched = false;
  function srcRenews() {
    var src = media.dataset.engine === "native-hls" ? hlsUrl : mp4Url;
    return linkMs > 0 && src && new URL(src, window.location.href).origin === window.location.origin;
  }
  function loadSrc(url, at, playing) {
    // The query defeats the cached redirect; #t= starts the new load where the old one was.
    media.defaultPlaybackRate = media.playbackRate;  // a load resets the rate to this one
    media.src = fresh(url) + (at > 0 ? "#t=" + at.toFixed(3) : "");
    srcUntil = performance.now() + renewIn(linkMs / 2);
    media.addEventListener("loadedmetadata", function () {
      if (Math.abs(media.currentTime - at) > 0.5) media.currentTime = at;
    }, { once: true });
    if (playing) media.play().catch(function () {});
  }
  function renewSrc() {
    if (!srcRenews() || performance.now() < srcUntil) return;
    renewed();
    loadSrc(media.dataset.engine === "native-hls" ? hlsUrl : mp4Url, media.currentTime,
            !media.paused || media.dataset.wantsPlay === "1");
  }
  function watchSrc() {
    if (srcWatched) return;
    srcWatched = true;
    srcUntil = Math.max(srcUntil, performance.now() + renewIn(linkMs / 4));
    setInterval(function () { if (!media.paused) renewSrc(); }, 1000);
    media.addEventListener("play", renewSrc);
    media.addEventListener("seeking", renewSrc);
  }

  // The timeline's thumbnails: a track whose cues hold presigned links. Setting its src
  // again reloads its cues (same TextTrack, so media-chrome keeps it) before they end; the
  // first copy may be a cached one, so a quarter of the lifetime.
  var thumbnails = media.querySelector("track[label='thumbnails']");
  if (thumbnails && linkMs > 0) {
    var thumbnailsUrl = thumbnails.getAttribute("src");
    setInterval(function () { thumbnails.src = fresh(thumbnailsUrl); }, renewIn(linkMs / 4));
  }

  // -- MP4 / M4A, and recovery from an expired link ------------------------------------
  var mp4Reloads = 0;
  function reloadMp4(reason) {
    // The app route answers with a fresh presigned link.
    if (!mp4Url) return;  // none yet (a recording still being encoded): HLS only
    mp4Reloads += 1;
    media.dataset.engine = "mp4";
    media.dataset.recoveries = String(mp4Reloads);
    media.dataset.lastError = reason || "";
    loadSrc(mp4Url, media.currentTime || startAt, !media.paused || media.dataset.wantsPlay === "1");
    watchSrc();
  }
  function useMp4() {
    media.dataset.engine = "mp4";
    if (startAt) seekWhenReady(startAt, false);
    watchSrc();
    // A <source> that fails reports on itself, a src on the element: listen to both.
    media.addEventListener("error", function () {
      if (media.dataset.engine === "mp4" && mp4Reloads < 5) reloadMp4("media error");
    }, true);
  }
  media.addEventListener("play", function () { media.dataset.wantsPlay = "1"; });
  // One "play" per page view for the staff's statistics (a count, nothing about the viewer).
  if (media.dataset.played && navigator.sendBeacon) {
    media.addEventListener("play", function counted() {
      media.removeEventListener("play", counted);
      navigator.sendBeacon(media.dataset.played);
    });
  }
  media.addEventListener("pause", function () { if (!media.seeking) media.dataset.wantsPlay = "0"; });
  media.addEventListener("playing", function () { mp4Reloads = 0; });

  // -- hls.js ----------------------------------------------------------------------------
  var hls = null;
  var recoveries = 0;
  var qualityMenu = document.getElementById("quality-menu");
  var qualityItem = document.getElementById("quality-item");

  function buildQualityMenu() {
    if (!qualityMenu || !hls) return;
    qualityMenu.querySelectorAll("media-chrome-menu-item:not([value='-1'])").forEach(function (el) { el.remove(); });
    var order = hls.levels.map(function (l, i) { return i; })
      .sort(function (a, b) { return hls.levels[b].height - hls.levels[a].height; });
    order.forEach(function (i) {
      var item = document.createElement("media-chrome-menu-item");
      item.setAttribute("type", "radio");
      item.setAttribute("value", String(i));
      item.textContent = hls.levels[i].height + "p";
      qualityMenu.appendChild(item);
    });
    qualityMenu.value = String(hls.autoLevelEnabled ? -1 : hls.currentLevel);
    if (qualityItem) qualityItem.hidden = hls.levels.length < 2;
  }

  function newHls(at) {
    var h = new window.Hls({
      capLevelToPlayerSize: true,   // no 1080p into a small window on a slow link
      startLevel: -1,
      // A growing playlist is "live" to hls.js, which would start at its end: start at 0.
      startPosition: at > 0 ? at : (growingUrl ? 0 : -1),
      maxBufferLength: 30,
      maxMaxBufferLength: 60,     // a viewer who leaves has not fetched the whole talk
      fLoader: renewingLoader(window.Hls.DefaultConfig.loader),
    });
    h.on(window.Hls.Events.ERROR, function (_event, data) {
      if (!data.fatal) return;
      if (data.type === window.Hls.ErrorTypes.NETWORK_ERROR && recoveries < 5) {
        recover(data.details);
      } else if (data.type === window.Hls.ErrorTypes.MEDIA_ERROR && recoveries < 5) {
        recoveries += 1;
        h.recoverMediaError();
      } else {
        h.destroy();
        hls = null;
        window.webinarHls = null;
        reloadMp4(data.details);
      }
    });
    h.on(window.Hls.Events.MANIFEST_PARSED, buildQualityMenu);
    h.on(window.Hls.Events.FRAG_BUFFERED, function () { recoveries = 0; });
    h.on(window.Hls.Events.LEVEL_SWITCHED, function (_event, data) {
      var level = h.levels[data.level];
      if (level) media.dataset.rendition = level.height + "p";
      media.dataset.level = String(data.level);
    });
    h.loadSource(recoveries ? fresh(hlsUrl) : hlsUrl);
    h.attachMedia(media);
    return h;
  }

  function recover(reason) {
    // Presigned links expired (a viewer paused for hours): start again from fresh
    // playlists, at the same time, playing if the viewer was.
    var at = media.currentTime || startAt;
    var playing = media.dataset.wantsPlay === "1";
    var level = hls && !hls.autoLevelEnabled ? hls.currentLevel : -1;
    recoveries += 1;
    media.dataset.recoveries = String((parseInt(media.dataset.recoveries || "0", 10)) + 1);
    media.dataset.lastError = reason || "";
    if (hls) hls.destroy();
    hls = newHls(at);
    window.webinarHls = hls;
    hls.once(window.Hls.Events.MANIFEST_PARSED, function () {
      if (level >= 0) hls.currentLevel = level;
    });
    seekWhenReady(at, playing);
  }

  function useHlsJs() {
    media.dataset.engine = "hls.js";
    hls = newHls(startAt);
    window.webinarHls = hls;
  }

  if (qualityMenu) {
    qualityMenu.addEventListener("change", function () {
      if (!hls) return;
      var level = parseInt(qualityMenu.value, 10);
      hls.currentLevel = isNaN(level) ? -1 : level;   // -1: automatic
      media.dataset.quality = isNaN(level) || level < 0 ? "auto" : hls.levels[level].height + "p";
    });
  }

  var hlsJsOk = window.Hls && window.Hls.isSupported();
  var nativeHls = media.canPlayType("application/vnd.apple.mpegurl") !== "";
  if (hlsUrl && engine !== "mp4" && engine !== "native" && hlsJsOk) {
    useHlsJs();
  } else if (hlsUrl && engine !== "mp4" && engine !== "hlsjs" && nativeHls) {
    media.dataset.engine = "native-hls";
    media.src = hlsUrl;
    if (startAt) seekWhenReady(startAt, false);
    watchSrc();
    media.addEventListener("error", function () { reloadMp4("native HLS error"); });
  } else {
    useMp4();
  }

  // -- a recording still being encoded ---------------------------------------------------
  // Its playlist grows as segments are made; the player plays what exists. The page polls
  // the playlist for how much is ready (the notice below the player), and a seek past
  // what exists shows a sentence over the player instead of an endless spinner. Once the
  // playlist is closed (ENDLIST) it is a recording like any other.
  if (growingUrl) {
    var total = parseFloat(media.dataset.duration) || 0;
    var notice = document.getElementById("preparing");
    var notYet = document.getElementById("not-yet");
    var ready = 0, closed = false, hideNotYet = null;
    var percent = function () {
      return total > 0 ? Math.min(99, Math.floor(100 * ready / total)) : 0;
    };
    var showNotYet = function () {
      if (!notYet || closed) return;
      notYet.textContent = notYet.dataset.template.replace("{percent}", String(percent()));
      notYet.hidden = false;
      media.dataset.notYet = "1";
      clearTimeout(hideNotYet);
      hideNotYet = setTimeout(function () { notYet.hidden = true; media.dataset.notYet = "0"; }, 8000);
    };
    var update = function () {
      media.dataset.ready = ready.toFixed(1);
      media.dataset.preparing = closed ? "done" : String(percent());
      if (notice) {
        notice.textContent = notice.dataset.template.replace("{percent}", String(percent()));
        notice.hidden = closed;
      }
      if (closed && notYet) notYet.hidden = true;
    };
    var poll = function () {
      fetch(growingUrl, { cache: "no-store", credentials: "same-origin" }).then(function (r) {
        if (!r.ok) throw new Error("playlist " + r.status);
        return r.text();
      }).then(function (text) {
        var sum = 0;
        text.split("\n").forEach(function (line) {
          if (line.indexOf("#EXTINF:") === 0) sum += parseFloat(line.slice(8)) || 0;
        });
        ready = sum;
        closed = text.indexOf("#EXT-X-ENDLIST") >= 0;
        update();
        if (!closed) setTimeout(poll, 3000);
      }, function () { setTimeout(poll, 10000); });
    };
    poll();
    // Past what exists: the browser stops the seek at the end of what it knows.
    media.addEventListener("seeking", function () {
      if (closed) return;
      var end = Math.min(ready || Infinity, isFinite(media.duration) ? media.duration : Infinity);
      if (isFinite(end) && media.currentTime >= end - 1) showNotYet();
    });
    media.addEventListener("waiting", function () {
      if (!closed && ready && media.currentTime >= ready - 1) showNotYet();
    });
    // A jump link or #t= past what exists: say so rather than jump to the end.
    document.addEventListener("click", function (e) {
      var target = e.target.closest("[data-seek]");
      if (target && !closed && parseFloat(target.dataset.seek) > ready) {
        e.preventDefault();
        e.stopImmediatePropagation();
        showNotYet();
      }
    }, true);
  }

  // -- media-chrome's labels in the page's language ------------------------------------
  // media-chrome 4.19's bundle speaks English only (its other languages ship as separate
  // ES modules its bundle cannot take in): the page gives the translations (data-labels:
  // English label -> translated) and they replace media-chrome's aria-labels, also those
  // inside its shadow roots (the seek and volume sliders). The spoken times ("1 minute,
  // 5 seconds of 2 minutes") are written anew in the page's language with Intl.
  var controller = media.closest("media-controller");
  var labels = controller && controller.dataset.labels ? JSON.parse(controller.dataset.labels) : {};
  var lang = (controller && controller.getAttribute("lang")) || document.documentElement.lang || "en";
  function said(key) { return labels[key] || key; }
  function relabel(el) {
    var now = el.getAttribute("aria-label");
    var says = now && labels[now.toLowerCase()];
    if (says && says !== now) el.setAttribute("aria-label", says);
  }
  var units = ["hour", "minute", "second"].map(function (unit) {
    try { return new Intl.NumberFormat(lang, { style: "unit", unit: unit, unitDisplay: "long" }); }
    catch (e) { return null; }
  });
  var list = Intl.ListFormat ? new Intl.ListFormat(lang, { style: "narrow", type: "unit" }) : null;
  function phrase(seconds) {
    var s = Math.floor(Math.abs(seconds) || 0);
    var parts = [Math.floor(s / 3600), Math.floor(s / 60) % 60, s % 60];
    var words = parts.map(function (n, i) { return n && units[i] ? units[i].format(n) : ""; })
      .filter(Boolean);
    if (!words.length) words = [units[2] ? units[2].format(0) : "0"];
    var text = (list ? list.format(words) : words.join(", ")).replace(/\s+/g, " ");  // Intl's no-break spaces
    return seconds < 0 ? said("{time} remaining").replace("{time}", text) : text;
  }
  function spokenTimes(current, total) {
    if (!isFinite(current) || !isFinite(total) || !total) return null;
    return said("{currentTime} of {totalTime}").replace("{currentTime}", phrase(current))
      .replace("{totalTime}", phrase(total));
  }
  function set(el, name, value) {
    if (value && el.getAttribute(name) !== value) el.setAttribute(name, value);
  }
  // The time display is a button whose name must hold the time it shows (WCAG 2.5.3).
  function timeDisplay(el) {
    var shown = el.shadowRoot && el.shadowRoot.querySelector("slot");
    var text = shown ? shown.textContent.replace(/\s+/g, " ").trim() : "";  // its separator is "&nbsp;/&nbsp;"
    set(el, "aria-label", said("playback time") + (text ? " " + text : ""));
    if (lang.split("-")[0] !== "en") {
      var current = el.mediaCurrentTime, total = el.mediaDuration;
      set(el, "aria-description", el.hasAttribute("remaining") ? phrase(current - total) : spokenTimes(current, total));
    }
  }
  function timeRange(el) {
    var range = el.shadowRoot && el.shadowRoot.querySelector("[role=slider], input");
    if (!range) return;
    relabel(range);
    if (lang.split("-")[0] !== "en") set(range, "aria-valuetext", spokenTimes(el.mediaCurrentTime, el.mediaDuration));
  }
  function watchLabels(el, update) {
    update(el);
    var observe = { subtree: true, childList: true, characterData: true, attributes: true,
                    attributeFilter: ["aria-label", "aria-description", "aria-valuetext", "remaining",
                                      "mediacurrenttime", "mediaduration"] };
    var observer = new MutationObserver(function () { update(el); });
    observer.observe(el, observe);
    if (el.shadowRoot) observer.observe(el.shadowRoot, observe);
  }
  if (controller) {
    relabel(controller);
    controller.querySelectorAll("[aria-label]").forEach(relabel);
    new MutationObserver(function (changes) {
      changes.forEach(function (c) { relabel(c.target); });
    }).observe(controller, { subtree: true, attributes: true, attributeFilter: ["aria-label"] });
    controller.querySelectorAll("media-time-display").forEach(function (el) { watchLabels(el, timeDisplay); });
    controller.querySelectorAll("media-time-range").forEach(function (el) { watchLabels(el, timeRange); });
    controller.querySelectorAll("media-volume-range").forEach(function (el) {
      watchLabels(el, function (v) {
        var range = v.shadowRoot && v.shadowRoot.querySelector("[role=slider], input");
        if (range) relabel(range);
      });
    });
  }

  // -- captions above the controls -------------------------------------------------------
  // While the control bars show, each cue on screen is placed with its bottom just above
  // them (as players do), and goes back to its own place when they hide. Cues are moved
  // through the standard VTTCue settings, so every browser's own caption rendering follows.
  var bars = controller ? Array.prototype.slice.call(controller.querySelectorAll("media-control-bar")) : [];
  var moved = [];  // cues placed here: {cue, lift, and the cue's own settings}
  function controlsShown() {
    // media-chrome hides the controls of an inactive viewer, unless the media is paused.
    return controller && (!controller.hasAttribute("userinactive") || controller.hasAttribute("mediapaused"));
  }
  var changed = [];  // tracks whose cues moved: redrawn (a paused browser redraws no moved cue by itself)
  function restore(m) {
    m.cue.snapToLines = m.snapToLines;
    m.cue.line = m.line;
    if (changed.indexOf(m.track) < 0) changed.push(m.track);
  }
  // Idempotent: a cue already where it belongs is not touched again (moving a cue can make
  // the browser announce a cuechange, which calls this again).
  function placeCues() {
    var box = media.getBoundingClientRect();
    var top = Infinity;
    if (controlsShown()) {
      bars.forEach(function (bar) {
        var r = bar.getBoundingClientRect();
        if (r.height && getComputedStyle(bar).visibility !== "hidden") top = Math.min(top, r.top);
      });
    }
    // In lines counted from the bottom (line -1 is the last), a line being at least the
    // cue text's default size, 5% of the video's height: the cue's last line ends above the bars.
    var lift = isFinite(top) && box.height
      ? -(1 + Math.ceil(Math.max(0, box.bottom - top) / (0.05 * box.height))) : null;
    var active = [];
    if (lift !== null) {
      Array.prototype.forEach.call(media.textTracks, function (track) {
        if ((track.kind !== "captions" && track.kind !== "subtitles") || track.mode !== "showing") return;
        Array.prototype.forEach.call(track.activeCues || [], function (cue) {
          if ("snapToLines" in cue) active.push({ cue: cue, track: track });
        });
      });
    }
    moved = moved.filter(function (m) {
      if (m.lift === lift && active.some(function (a) { return a.cue === m.cue; })) return true;
      restore(m);
      return false;
    });
    active.forEach(function (a) {
      if (moved.some(function (m) { return m.cue === a.cue; })) return;
      moved.push({ cue: a.cue, track: a.track, lift: lift, snapToLines: a.cue.snapToLines, line: a.cue.line });
      a.cue.snapToLines = true;
      a.cue.line = lift;
      if (changed.indexOf(a.track) < 0) changed.push(a.track);
    });
    changed.forEach(function (track) {
      if (track.mode !== "showing") return;
      track.mode = "hidden";
      track.mode = "showing";
    });
    changed = [];
  }
  var placing = false;
  function schedulePlace() {
    if (placing) return;
    placing = true;
    requestAnimationFrame(function () { placing = false; placeCues(); });
  }
  if (controller && media.tagName === "VIDEO") {
    new MutationObserver(schedulePlace).observe(controller, { attributes: true, attributeFilter: ["userinactive", "mediapaused"] });
    Array.prototype.forEach.call(media.textTracks, function (track) {
      track.addEventListener("cuechange", schedulePlace);
    });
    media.textTracks.addEventListener("change", schedulePlace);
    window.addEventListener("resize", schedulePlace);
  }

  // -- jump links: any element with data-seek="seconds" moves the playhead there -------
  document.addEventListener("click", function (e) {
    var target = e.target.closest("[data-seek]");
    if (!target) return;
    e.preventDefault();
    media.currentTime = parseFloat(target.dataset.seek);
    media.play().catch(function () {});
  });
  window.addEventListener("hashchange", function () {
    var t = parseTime(new URLSearchParams(window.location.hash.replace(/^#/, "")).get("t"));
    if (t !== null) media.currentTime = t;
  });

  // -- copy a link to this moment ----------------------------------------------------
  var copy = document.getElementById("copy-link");
  var field = document.getElementById("copy-link-text");
  var status = document.getElementById("copy-link-status");
  // The texts come translated from the page: data-label, data-copied, data-copy-this.
  function say(name, fallback) {
    return ((copy && copy.dataset[name]) || fallback).replace("{time}", formatTime(media.currentTime));
  }
  function linkHere() {
    var url = new URL(window.location.href);
    url.hash = "";
    ["t", "engine", "mp4", "native", "slide"].forEach(function (k) { url.searchParams.delete(k); });
    url.searchParams.set("t", String(Math.floor(media.currentTime || 0)));
    return url.toString();
  }
  function showField(url, message) {
    field.value = url;
    field.hidden = false;
    field.focus();
    field.select();
    status.textContent = message;
  }
  if (copy && field) {
    copy.addEventListener("click", function () {
      var url = linkHere();
      copy.dataset.url = url;
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(url).then(function () {
          field.value = url;
          status.textContent = say("copied", "Link to {time} copied");
        }, function () { showField(url, say("copyThis", "Copy this link")); });
      } else {
        showField(url, say("copyThis", "Copy this link"));
      }
    });
    media.addEventListener("timeupdate", function () {
      copy.textContent = say("label", "Copy link at {time}");
    });
  }
})();
