// Plays a webinar: HLS through hls.js where Media Source Extensions exist, the
// browser's own HLS elsewhere (Safari, iOS), and the faststart MP4 as the fallback.
(function () {
  "use strict";
  var video = document.getElementById("player");
  if (!video) return;
  var hlsUrl = video.dataset.hls;
  var mp4Url = video.dataset.mp4;
  var params = new URLSearchParams(window.location.search);

  function fallBackToMp4(reason) {
    if (!mp4Url || video.dataset.engine === "mp4") return;
    var at = video.currentTime || 0;
    var playing = !video.paused;
    video.dataset.engine = "mp4";
    video.dataset.fallbackReason = reason || "";
    video.src = mp4Url;
    video.addEventListener("loadedmetadata", function once() {
      video.removeEventListener("loadedmetadata", once);
      if (at) video.currentTime = at;
      if (playing) video.play().catch(function () {});
    });
  }

  function startHlsJs() {
    var hls = new window.Hls({
      capLevelToPlayerSize: true,   // no 1080p into a small window on a slow link
      startLevel: -1,
      maxBufferLength: 30,
    });
    var mediaErrors = 0;
    var reloads = 0;
    video.dataset.engine = "hls.js";
    hls.on(window.Hls.Events.ERROR, function (_event, data) {
      if (!data.fatal) return;
      if (data.type === window.Hls.ErrorTypes.NETWORK_ERROR && reloads < 3) {
        // Presigned links expire: fetch fresh playlists and carry on where we were.
        reloads += 1;
        var at = video.currentTime;
        hls.loadSource(hlsUrl);
        hls.startLoad(at);
      } else if (data.type === window.Hls.ErrorTypes.MEDIA_ERROR && mediaErrors < 2) {
        mediaErrors += 1;
        hls.recoverMediaError();
      } else {
        hls.destroy();
        fallBackToMp4(data.details);
      }
    });
    hls.on(window.Hls.Events.LEVEL_SWITCHED, function (_event, data) {
      var level = hls.levels[data.level];
      if (level) video.dataset.rendition = level.height + "p";
    });
    hls.loadSource(hlsUrl);
    hls.attachMedia(video);
    window.webinarPlayer = hls;
  }

  if (hlsUrl && !params.has("mp4")) {
    var nativeHls = video.canPlayType("application/vnd.apple.mpegurl") !== "";
    if (window.Hls && window.Hls.isSupported() && !params.has("native")) {
      startHlsJs();
    } else if (nativeHls) {
      video.dataset.engine = "native-hls";
      video.src = hlsUrl;
      video.addEventListener("error", function () { fallBackToMp4("native HLS error"); });
    } else {
      video.dataset.engine = "mp4";
    }
  } else {
    video.dataset.engine = "mp4";
  }

  // Jump links: any element with data-seek="seconds" moves the playhead there.
  document.addEventListener("click", function (e) {
    var target = e.target.closest("[data-seek]");
    if (!target) return;
    e.preventDefault();
    video.currentTime = parseFloat(target.dataset.seek);
    video.play().catch(function () {});
  });
  // A #t=90 link starts there.
  var m = /[#&]t=(\d+(?:\.\d+)?)/.exec(window.location.hash);
  if (m) video.addEventListener("loadedmetadata", function () { video.currentTime = parseFloat(m[1]); }, { once: true });
})();
