// Staff uploads: Uppy (vendored bundle) sends each file straight to S3 as a presigned
// multipart upload, several parts at a time, retrying failed parts; Golden Retriever
// keeps the files and their upload ids across a reload, and the upload resumes with
// ListParts, sending only the missing parts. The server issues the keys and signs the
// parts; once complete, a worker checks the file and the page asks how it went (every
// second) until it is received or refused. Answers are JSON ({"error": sentence} on refusal).
// The server decides each file's part size when its upload is created and signs only the
// parts of that size its announced size needs; the page cuts the file exactly so.
(function () {
  "use strict";
  var root = document.getElementById("uploader");
  if (!root || !window.Uppy) return;
  var U = window.Uppy;
  var webinar = root.dataset.webinar;
  var base = root.dataset.uploadsUrl;
  var extensions = JSON.parse(root.dataset.extensions);
  var limits = JSON.parse(root.dataset.limits);
  var parallel = parseInt(root.dataset.parallel, 10);
  var resumeMax = parseInt(root.dataset.resumeMaxBytes, 10);
  var results = document.getElementById("upload-results");
  // The page's words (web/uploads.py) and Uppy's own language pack, if the page has one.
  var texts = JSON.parse(root.dataset.texts);
  var locale = root.dataset.locale && U.locales ? U.locales[root.dataset.locale] : undefined;
  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (all, name) { return name in values ? values[name] : all; });
  }
  // ?replace=<asset id>: one file of that kind, which replaces it once processed.
  var replaces = root.dataset.replaces || "";
  var replaceKind = root.dataset.replaceKind || "";
  var PROGRESS_MS = 500;  // progress is drawn at most this often
  var POLL_MS = 1000;  // how often the page asks whether a completed file passed its check
  var GIVE_UP_MS = 60 * 60 * 1000;  // then it stops asking (the check goes on)
  var stillChecking = {};  // file id -> true: the page stopped asking before an answer

  function extOf(name) {
    var dot = name.lastIndexOf(".");
    return dot < 0 ? "" : name.slice(dot + 1).toLowerCase();
  }

  function kindOf(name) {
    var ext = extOf(name);
    for (var kind in extensions) {
      if (extensions[kind].indexOf(ext) >= 0) return kind;
    }
    return null;
  }

  // One JSON call to our server; a refusal becomes an Error carrying the server's sentence.
  function call(method, url, body, signal) {
    var headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    var csrf = document.querySelector("meta[name=csrf-token]");
    if (csrf && method !== "GET") headers["X-CSRFToken"] = csrf.content;
    return fetch(url, {
      method: method, headers: headers, credentials: "same-origin", signal: signal,
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          var error = new Error(data.error || fill(texts.answered, { status: response.status }));
          error.status = response.status;
          error.refused = response.status === 404 || response.status === 422;  // trying again cannot help
          throw error;
        }
        return data;
      });
    });
  }

  function uploadUrl(id, tail) {
    return base + "/" + encodeURIComponent(id) + (tail || "");
  }

  function wait(ms, signal) {
    return new Promise(function (resolve, reject) {
      var timer = setTimeout(resolve, ms);
      if (signal) {
        signal.addEventListener("abort", function () {
          clearTimeout(timer);
          reject(signal.reason || new Error("aborted"));
        }, { once: true });
      }
    });
  }

  // After "complete" a worker checks the file: ask until it is recorded (resolves) or
  // refused (rejects with the reason, as a refused completion did). A lost answer (the
  // connection, a busy server) is asked again; after GIVE_UP_MS the page stops asking.
  function untilChecked(file, id, answer, signal) {
    var started = Date.now();
    function next(data) {
      if (data.state === "done") return data;
      if (data.state === "refused") {
        var refusal = new Error(data.error || texts.refused);
        refusal.refused = true;
        throw refusal;
      }
      if (Date.now() - started > GIVE_UP_MS) {
        stillChecking[file.id] = true;
        return data;
      }
      return wait(POLL_MS, signal)
        .then(function () { return call("GET", uploadUrl(id), undefined, signal); })
        .catch(function (error) {
          if (error.status === 404 || (signal && signal.aborted)) throw error;
          return { state: "checking" };  // asked again at the next turn
        })
        .then(next);
    }
    return Promise.resolve(answer).then(next);
  }

  // `outcome`: received, refused or checking (the page stopped asking before an answer).
  function report(file, text, outcome) {
    var li = document.createElement("li");
    li.className = outcome;
    li.dataset.file = file.name;
    if (outcome === "refused") li.setAttribute("role", "alert");
    // The server's sentence usually names the file itself ("Recording talk.mp4: …"); say it once.
    li.textContent = text.indexOf(file.name) >= 0 ? text : file.name + ": " + text;
    results.appendChild(li);
  }

  var allTypes = [];
  Object.keys(extensions).forEach(function (kind) {
    if (replaceKind && kind !== replaceKind) return;
    extensions[kind].forEach(function (ext) { allTypes.push("." + ext); });
  });

  var uppy = new U.Uppy({
    id: "webinar-upload-" + webinar + (replaces ? "-replace-" + replaces : ""),  // Golden Retriever keeps one state per webinar
    locale: locale,
    // Files go as soon as they are chosen, but for caption files: they wait for the Upload
    // button, so that staff can check (and change) the language read from their name.
    autoProceed: false,
    restrictions: { allowedFileTypes: allTypes, maxNumberOfFiles: replaces ? 1 : null },
    onBeforeFileAdded: function (file) {
      var kind = kindOf(file.name);
      if (kind && file.size > limits[kind]) {
        uppy.info(fill(texts.tooLarge[kind], { file: file.name }), "error", 8000);
        return false;
      }
      return true;
    },
  });

  // Each progress event re-renders the Dashboard: drawn on every event of every part in
  // flight, the display was most of what the uploader lost to a bare script
  // (bench/upload.py). Only the latest progress of each file goes on, every PROGRESS_MS;
  // the end of an upload is not delayed (upload-success sets its progress to 100% itself).
  var emit = uppy.emit.bind(uppy);
  var latestProgress = {};  // file id -> [file, progress] not yet drawn
  var progressTimer = null;
  function drawProgress() {
    var pending = latestProgress;
    latestProgress = {};
    progressTimer = null;
    Object.keys(pending).forEach(function (id) { emit("upload-progress", pending[id][0], pending[id][1]); });
  }
  uppy.emit = function (event, file, progress) {
    if (event !== "upload-progress" || !file) return emit.apply(null, arguments);
    latestProgress[file.id] = [file, progress];
    if (progressTimer === null) progressTimer = setTimeout(drawProgress, PROGRESS_MS);
  };

  uppy.use(U.Dashboard, {
    target: root,
    inline: true,
    height: 420,
    width: "100%",
    showProgressDetails: true,  // speed and time left
    proudlyDisplayPoweredByUppy: false,
    note: texts.note,
    metaFields: function (file) {
      return kindOf(file.name) === "captions"
        ? [{ id: "language", name: texts.language, placeholder: texts.languageHint }] : [];
    },
  });

  uppy.use(U.AwsS3, {
    shouldUseMultipart: true,  // every file, so that every upload can resume
    limit: parallel,  // parts in flight at once
    // The part size the server gave when it created the upload (kept in the file's meta,
    // so a resumed upload is cut as before); Uppy is handed the file's bytes only.
    getChunkSize: function (data) {
      var file = uppy.getFiles().filter(function (f) { return f.data === data; })[0];
      return (file && file.meta.partBytes) || 0;
    },
    retryDelays: [0, 1000, 3000, 5000, 10000, 20000, 30000],
    createMultipartUpload: function (file) {
      var answer = created[file.id];
      delete created[file.id];
      return answer || createUpload(file);
    },
    // Parts' URLs are asked for a dozen at a time, and the next dozen while a lane still
    // has parts signed ahead: no lane waits for the server between two parts, and the
    // server signs in one request what took twelve.
    signPart: function (file, opts) {
      var id = opts.uploadId, n = opts.partNumber;
      var count = file.meta.partBytes ? Math.ceil(file.size / file.meta.partBytes) : 0;
      var asked = askedUpTo[id] || 0;
      if (count && asked < n) signAhead(id, n, count);  // the first part, or a resume's
      else if (count && asked < Math.min(n + parallel, count)) signAhead(id, asked + 1, count);
      var early = signed[id + "/" + n];
      delete signed[id + "/" + n];
      var fresh = early && Date.now() - early.at < SIGNED_KEEP_MS;
      return Promise.resolve(fresh ? early.url : null).then(function (url) {
        return url ? { url: url } : signPartNow(id, n, opts.signal);
      });
    },
    listParts: function (file, opts) {
      return call("GET", uploadUrl(opts.uploadId, "/parts"), undefined, opts.signal);
    },
    completeMultipartUpload: function (file, opts) {
      return call("POST", uploadUrl(opts.uploadId, "/complete"), { parts: opts.parts }, opts.signal)
        .then(function (data) {
          var page = data.page;
          return untilChecked(file, opts.uploadId, data, opts.signal).then(function (checked) {
            return { location: page, state: checked.state };
          });
        });
    },
    abortMultipartUpload: function (file, opts) {
      return call("DELETE", uploadUrl(opts.uploadId));
    },
  });

  var SIGN_BATCH = 2 * parallel;  // part URLs asked for in one request
  // Part URLs live an hour; one signed ahead longer ago than this (a slow link) is asked again.
  var SIGNED_KEEP_MS = 10 * 60 * 1000;
  var signed = {};  // "upload id/part number" -> {at: when asked, url: a promise (null: ask again)}
  var askedUpTo = {};  // upload id -> the highest part number whose URL was asked for ahead
  function signAhead(uploadId, first, count) {
    var numbers = [];
    for (var k = first; k < first + SIGN_BATCH && k <= count; k++) numbers.push(k);
    askedUpTo[uploadId] = Math.max(askedUpTo[uploadId] || 0, numbers[numbers.length - 1]);
    var answer = call("POST", uploadUrl(uploadId, "/parts"), { numbers: numbers });
    var at = Date.now();
    numbers.forEach(function (k) {
      signed[uploadId + "/" + k] = {
        at: at,
        url: answer.then(function (data) { return data.urls[k] || null; }, function () { return null; }),
      };
    });
  }
  function signPartNow(uploadId, partNumber, signal) {
    return call("POST", uploadUrl(uploadId, "/parts/" + partNumber), {}, signal);
  }

  // Uppy cuts a file in parts before it creates the upload: the upload is created first,
  // here, and createMultipartUpload hands on the server's answer (a refusal included).
  var created = {};  // file id -> the server's answer to "create" (a promise)
  function createUpload(file) {
    var kind = kindOf(file.name);
    return call("POST", base, {
      webinar: webinar, kind: kind, filename: file.name, size: file.size,
      // None chosen: the server reads it from the name, as the folder import does.
      language: kind === "captions" ? (file.meta.language || undefined) : undefined,
      replaces: replaces || undefined,
    }).then(function (data) {
      uppy.setFileMeta(file.id, { partBytes: data.partBytes, replacing: data.replacing || "" });
      return data;
    });
  }
  uppy.addPreProcessor(function (fileIDs) {
    return Promise.all(fileIDs.map(function (id) {
      var file = uppy.getFile(id);
      if (!file || (file.s3Multipart && file.s3Multipart.uploadId)) return null;  // resumed: cut as before
      created[id] = createUpload(file);
      return created[id].catch(function () { return null; });  // told through createMultipartUpload
    }));
  });

  // Files up to `resumeMax` are kept in IndexedDB so that a reload resumes on its own;
  // a larger one must be chosen again after a reload, then only its missing parts go.
  uppy.use(U.GoldenRetriever, { indexedDB: { maxFileSize: resumeMax, maxTotalSize: 2 * resumeMax } });

  // After a reload: carry on as soon as every file is back, whether Golden Retriever kept
  // it or the user chose it again (a file too large to keep); ListParts then tells what
  // S3 already has.
  function resumeWhenComplete() {
    var files = uppy.getFiles();
    if (uppy.getState().recoveredState && files.length &&
        files.every(function (f) { return !f.isGhost; })) {
      uppy.emit("restore-confirmed");
    }
  }
  uppy.on("restored", resumeWhenComplete);
  uppy.on("files-added", resumeWhenComplete);

  // A caption file's language, as the server reads it from the name ("talk.de.srt": de),
  // shown in its "Edit" card before it goes; staff may change it there.
  function guessLanguage(file) {
    if (kindOf(file.name) !== "captions" || file.meta.language) return Promise.resolve();
    return call("GET", base + "/caption-language?filename=" + encodeURIComponent(file.name))
      .then(function (data) { if (uppy.getFile(file.id)) uppy.setFileMeta(file.id, { language: data.language }); })
      .catch(function () {});  // the server reads it at the upload all the same
  }
  var captionNote = document.getElementById("caption-note");
  uppy.on("files-added", function (files) {
    Promise.all(files.map(guessLanguage)).then(function () {
      if (uppy.getState().recoveredState) return;  // a reload: resumeWhenComplete carries on
      var fresh = uppy.getFiles().filter(function (f) { return !f.progress.uploadStarted; });
      var waiting = fresh.some(function (f) { return kindOf(f.name) === "captions"; });
      if (captionNote) captionNote.hidden = !waiting;
      if (fresh.length && !waiting) uppy.upload().catch(function () {});
    });
  });
  uppy.on("upload", function () { if (captionNote) captionNote.hidden = true; });

  uppy.on("upload-success", function (file) {
    var values = { language: file.meta.language || "", name: file.meta.replacing || "" };
    if (stillChecking[file.id]) {
      report(file, texts.checking, "checking");
    } else if (file.meta.replacing) {
      report(file, fill(texts.replacing, values), "received");
    } else {
      report(file, fill(file.meta.language ? texts.receivedCaptions : texts.received, values), "received");
    }
  });
  uppy.on("upload-error", function (file, error) {
    report(file, (error && error.message) || texts.failed, "refused");
    // A refusal is final: the file leaves the Dashboard, which would offer a Retry that
    // cannot succeed; the reason stays in the list below it.
    if (error && error.refused && uppy.getFile(file.id)) uppy.removeFile(file.id);
  });

  // Offline, the upload waits and goes on by itself when the network is back: the status
  // says so, without a time left. After a reload that resumes, Uppy's own estimate is wrong
  // for a long while ("0s left": the parts S3 already had count as bytes sent in an instant),
  // so the time left is ours: unknown until parts have gone for a few seconds since the
  // resume, then the bytes still to send at the speed of those parts, redrawn once a second.
  var SPEED_AFTER_MS = 1500;
  var dashboard = uppy.getPlugin("Dashboard");
  var online = navigator.onLine !== false;
  var resumed = null;  // after a restore: {since: first part's time, bytes: sent after it}
  var shown = null;
  function timeLeft() {
    if (!online) return texts.timeUnknown;
    if (!resumed) return texts.timeLeft;  // Uppy's estimate, filled in by Uppy
    // Parts in flight together end together: a speed needs a few seconds of them.
    if (!resumed.bytes || performance.now() - resumed.since < SPEED_AFTER_MS) return texts.timeUnknown;
    var remaining = 0;
    uppy.getFiles().forEach(function (f) {
      if (f.progress && f.progress.uploadStarted && !f.progress.uploadComplete) {
        remaining += Math.max(0, (f.progress.bytesTotal || f.size || 0) - (f.progress.bytesUploaded || 0));
      }
    });
    var speed = resumed.bytes / Math.max(1, performance.now() - resumed.since);  // bytes per ms
    return texts.timeLeft.replace("%{time}", duration(remaining / speed / 1000));
  }
  function duration(seconds) {  // as Uppy writes it: "42s", "3m 05s", "1h 02m"
    var s = Math.round(seconds), h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60;
    function two(n) { return (n < 10 ? "0" : "") + n; }
    if (h) return h + "h " + two(m) + "m";
    if (m) return m + "m " + two(s % 60) + "s";
    return s + "s";
  }
  function showStatus() {
    var strings = { uploading: online ? texts.uploading : texts.offline, xTimeLeft: timeLeft() };
    if (shown && shown.uploading === strings.uploading && shown.xTimeLeft === strings.xTimeLeft) return;
    shown = strings;
    dashboard.setOptions({ locale: { strings: strings } });
  }
  uppy.on("is-offline", function () { online = false; showStatus(); });
  uppy.on("is-online", function () { online = true; showStatus(); });
  uppy.on("restored", function () { resumed = { since: null, bytes: 0 }; showStatus(); });
  uppy.on("s3-multipart:part-uploaded", function (file) {
    if (!resumed) return;
    if (resumed.since === null) resumed.since = performance.now();  // the speed counts from here
    else resumed.bytes += (file && file.meta.partBytes) || 0;
    showStatus();
  });
  setInterval(function () { if (resumed && resumed.since !== null) showStatus(); }, 1000);
  uppy.on("complete", function () { resumed = null; showStatus(); });

  window.webinarUploader = uppy;  // for the browser tests and the curious
})();
