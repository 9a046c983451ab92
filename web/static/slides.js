// Slide viewer: one page large, previous/next, a strip of thumbnails the browser loads as
// they come into view (loading="lazy"), ←/→ when the viewer has focus, swipe on the page.
// ?slide=<deck asset id>:<page> opens that page (and scrolls to its viewer).
// A page whose time in the recording is known (data-times: one entry per page, null where
// unknown; the presentation's start for its first page, the description's slide times for
// the others) seeks the recording when the large page is clicked, and its "Play from" button
// does the same; a page without a known time is only shown. The texts come translated from
// the page (data-alt, data-seek-title, the button's data-label).
//
// A deck whose slide timeline is known (data-segments: [start, end, page] in time order,
// found by the archive or set by staff) follows playback: the page on screen is shown and
// highlighted in the strip, shown large beside the video (#slide-now), and each slide change
// is a marker on the player's timeline. A click on a page (large, or in the strip) plays
// from its next appearance after the current time, else from its first.
(function () {
  "use strict";

  function Viewer(root) {
    this.root = root;
    this.count = parseInt(root.dataset.count, 10);
    this.base = root.dataset.base;
    this.times = root.dataset.times ? JSON.parse(root.dataset.times) : [];
    this.segments = root.dataset.segments ? JSON.parse(root.dataset.segments) : [];
    this.title = root.dataset.title || "";
    this.live = null;  // the page on screen in the recording now, if this deck is
    this.altText = root.dataset.alt || "{page} / {count}";
    this.seekTitle = root.dataset.seekTitle || "";
    this.seekButton = root.querySelector("button.page-seek");
    this.img = root.querySelector("img.page");
    this.current = root.querySelector(".counter .current");
    this.strip = root.querySelector(".strip");
    this.prevButton = root.querySelector("button.prev");
    this.nextButton = root.querySelector("button.next");
    this.page = 1;
    var self = this;
    this.prevButton.addEventListener("click", function () { self.show(self.page - 1); });
    this.nextButton.addEventListener("click", function () { self.show(self.page + 1); });
    this.strip.addEventListener("click", function (e) {
      var b = e.target.closest("button[data-page]");
      if (!b) return;
      var page = parseInt(b.dataset.page, 10);
      self.show(page);
      if (self.segments.length) {
        var t = self.appearance(page);
        if (t !== null) seek(t);
      }
    });
    root.addEventListener("keydown", function (e) {
      if (e.target.closest("input, select, textarea")) return;
      if (e.key === "ArrowLeft" || e.key === "PageUp") { self.show(self.page - 1); e.preventDefault(); }
      else if (e.key === "ArrowRight" || e.key === "PageDown") { self.show(self.page + 1); e.preventDefault(); }
      else if (e.key === "Home") { self.show(1); e.preventDefault(); }
      else if (e.key === "End") { self.show(self.count); e.preventDefault(); }
    });
    this.swipe();
    this.img.addEventListener("click", function () {
      var t = self.segments.length ? self.appearance(self.page) : self.timeOf(self.page);
      if (t !== null) seek(t);
    });
    this.update();
  }

  Viewer.prototype.timeOf = function (page) {
    var t = this.times[page - 1];
    return typeof t === "number" && document.getElementById("player") ? t : null;
  };

  // Where a click on `page` plays from: its next appearance after now, else its first.
  Viewer.prototype.appearance = function (page) {
    var media = document.getElementById("player");
    if (!media) return null;
    var now = media.currentTime || 0, first = null, next = null;
    this.segments.forEach(function (s) {
      if (s[2] !== page) return;
      if (first === null) first = s[0];
      if (next === null && s[0] > now + 0.5) next = s[0];
    });
    if (first === null) return this.timeOf(page);
    return next !== null ? next : first;
  };

  Viewer.prototype.pageAt = function (t) {
    for (var i = 0; i < this.segments.length; i++) {
      var s = this.segments[i];
      if (s[0] <= t && t < s[1]) return s[2];
    }
    return null;
  };

  // The recording moved on to `page` of this deck (null: none of its pages is on screen).
  Viewer.prototype.onScreen = function (page) {
    if (page === this.live) return;
    this.live = page;
    var old = this.strip.querySelector("button.on-screen");
    if (old) old.classList.remove("on-screen");
    this.root.classList.toggle("following", page !== null);
    if (page === null) return;
    var b = this.strip.querySelector('button[data-page="' + page + '"]');
    if (b) b.classList.add("on-screen");
    this.show(page);  // follows playback; browsing by hand holds until the next change
  };

  Viewer.prototype.show = function (page, scroll) {
    page = Math.max(1, Math.min(this.count, page));
    if (page === this.page) return;
    this.page = page;
    this.img.src = this.base + "large/" + page + ".webp";
    this.img.alt = this.altText.replace("{page}", page).replace("{count}", this.count);
    this.img.dataset.page = String(page);
    this.update(scroll);
  };

  Viewer.prototype.update = function (scroll) {
    var page = this.page;
    this.current.textContent = String(page);
    this.prevButton.disabled = page <= 1;
    this.nextButton.disabled = page >= this.count;
    var old = this.strip.querySelector("[aria-current]");
    if (old) old.removeAttribute("aria-current");
    var b = this.strip.querySelector('button[data-page="' + page + '"]');
    if (b) {
      b.setAttribute("aria-current", "true");
      // Keep the current thumbnail in view inside the strip, without moving the page.
      var left = b.offsetLeft - (this.strip.clientWidth - b.offsetWidth) / 2;
      this.strip.scrollTo({ left: Math.max(0, left), behavior: scroll === false ? "auto" : "smooth" });
    }
    var t = this.timeOf(page);
    this.img.classList.toggle("seekable", t !== null);
    this.img.title = t !== null ? this.seekTitle : "";
    if (this.seekButton) {
      this.seekButton.hidden = t === null;
      if (t !== null) {
        this.seekButton.dataset.seek = String(t);   // player.js seeks on any [data-seek] click
        this.seekButton.textContent = (this.seekButton.dataset.label || "{time}").replace("{time}", clock(t));
      }
    }
    this.root.dataset.page = String(page);
    // Fetch the next page's large image ahead, so "next" feels instant.
    if (page < this.count) new Image().src = this.base + "large/" + (page + 1) + ".webp";
  };

  Viewer.prototype.swipe = function () {
    var self = this, x0 = null, y0 = null, id = null;
    var stage = this.img.parentElement;
    stage.addEventListener("pointerdown", function (e) {
      if (e.pointerType === "mouse" && e.button !== 0) return;
      x0 = e.clientX; y0 = e.clientY; id = e.pointerId;
    });
    stage.addEventListener("pointerup", function (e) {
      if (x0 === null || e.pointerId !== id) return;
      var dx = e.clientX - x0, dy = e.clientY - y0;
      x0 = null;
      if (Math.abs(dx) > 40 && Math.abs(dx) > 1.5 * Math.abs(dy)) {
        self.show(self.page + (dx < 0 ? 1 : -1));
      }
    });
    stage.addEventListener("pointercancel", function () { x0 = null; });
  };

  function clock(seconds) {
    var s = Math.floor(seconds || 0), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    var ss = String(s % 60).padStart(2, "0");
    return h ? h + ":" + String(m).padStart(2, "0") + ":" + ss : m + ":" + ss;
  }

  function seek(t) {
    var media = document.getElementById("player");
    if (!media) return;
    media.currentTime = t;
    media.play().catch(function () {});
  }

  var viewers = {};
  document.querySelectorAll(".slides-viewer").forEach(function (root) {
    viewers[root.dataset.deck] = new Viewer(root);
  });

  // -- in step with the recording -------------------------------------------------------
  var media = document.getElementById("player");
  var synced = Object.keys(viewers).map(function (k) { return viewers[k]; })
    .filter(function (v) { return v.segments.length; });
  if (media && synced.length) {
    var now = document.getElementById("slide-now");
    var nowImg = now && now.querySelector("img");
    var nowCaption = now && now.querySelector(".slide-now-caption");
    var follow = function () {
      var t = media.currentTime || 0, hit = null;
      synced.forEach(function (v) {
        var page = v.pageAt(t);
        if (page !== null && hit === null) hit = { viewer: v, page: page };
        v.onScreen(hit && hit.viewer === v ? hit.page : null);
      });
      if (!now) return;
      now.hidden = hit === null;
      if (hit === null) return;
      var src = hit.viewer.base + "large/" + hit.page + ".webp";
      if (nowImg.dataset.src !== src) {
        nowImg.dataset.src = src;
        nowImg.src = src;
        nowImg.dataset.page = String(hit.page);
        var caption = (now.dataset.caption || "{page} / {count}").replace("{page}", hit.page)
          .replace("{count}", hit.viewer.count);
        nowImg.alt = caption;
        nowCaption.textContent = caption + (hit.viewer.title ? " · " + hit.viewer.title : "");
      }
    };
    media.addEventListener("timeupdate", follow);
    media.addEventListener("seeked", follow);
    media.addEventListener("loadedmetadata", follow);
    follow();

    // Slide changes as markers on the timeline (media-chrome draws chapters, not markers).
    var bar = document.querySelector("media-controller media-control-bar.timeline");
    var controller = media.closest("media-controller");
    if (bar) {
      var marks = document.createElement("div");
      marks.className = "slide-markers";
      marks.setAttribute("aria-hidden", "true");
      bar.appendChild(marks);
      var place = function () {
        var d = media.duration;
        if (!d || !isFinite(d)) d = parseFloat(controller && controller.getAttribute("defaultduration"));
        if (!d || !isFinite(d)) return;
        marks.textContent = "";
        synced.forEach(function (v) {
          var label = v.root.dataset.marker || "{page}";
          v.segments.forEach(function (s, i) {
            if (s[0] < 0.05 || (i > 0 && v.segments[i - 1][2] === s[2] && v.segments[i - 1][1] >= s[0])) return;
            var m = document.createElement("span");
            m.className = "slide-marker";
            m.style.left = (Math.max(0, Math.min(1, s[0] / d)) * 100).toFixed(3) + "%";
            m.dataset.time = String(s[0]);
            m.dataset.page = String(s[2]);
            m.title = label.replace("{page}", s[2]);
            marks.appendChild(m);
          });
        });
      };
      media.addEventListener("durationchange", place);
      media.addEventListener("loadedmetadata", place);
      place();
    }
  }

  // ?slide=<asset>:<page>
  var wanted = new URLSearchParams(window.location.search).get("slide");
  if (wanted) {
    var parts = wanted.split(":");
    var v = viewers[parts[0]];
    var n = parseInt(parts[1] || "1", 10);
    if (v && n > 0) {
      v.show(n, false);
      v.root.scrollIntoView({ block: "start" });
      v.root.focus({ preventScroll: true });
    }
  }
})();
