// Staff uploads: Uppy (vendored bundle) sends each file straight to S3 as a presigned
// multipart upload, several parts at a time, retrying failed parts; Golden Retriever
// keeps the files and their upload ids across a reload, and the upload resumes with
// ListParts, sending only the missing parts. The server issues the keys, signs the parts
// and checks the file once complete; its answers are JSON ({"error": sentence} on refusal).
(function () {
  "use strict";
  var root = document.getElementById("uploader");
  if (!root || !window.Uppy) return;
  var U = window.Uppy;
  var webinar = root.dataset.webinar;
  var base = root.dataset.uploadsUrl;
  var extensions = JSON.parse(root.dataset.extensions);
  var limits = JSON.parse(root.dataset.limits);
  var partBytes = parseInt(root.dataset.partBytes, 10);
  var parallel = parseInt(root.dataset.parallel, 10);
  var resumeMax = parseInt(root.dataset.resumeMaxBytes, 10);
  var results = document.getElementById("upload-results");
  // ?replace=<asset id>: one file of that kind, which replaces it once processed.
  var replaces = root.dataset.replaces || "";
  var replaceKind = root.dataset.replaceKind || "";

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
          var error = new Error(data.error || "the server answered " + response.status);
          error.status = response.status;
          throw error;
        }
        return data;
      });
    });
  }

  function uploadUrl(id, tail) {
    return base + "/" + encodeURIComponent(id) + (tail || "");
  }

  function report(file, text, refused) {
    var li = document.createElement("li");
    li.className = refused ? "refused" : "received";
    li.dataset.file = file.name;
    if (refused) li.setAttribute("role", "alert");
    li.textContent = file.name + ": " + text;
    results.appendChild(li);
  }

  var allTypes = [];
  Object.keys(extensions).forEach(function (kind) {
    if (replaceKind && kind !== replaceKind) return;
    extensions[kind].forEach(function (ext) { allTypes.push("." + ext); });
  });

  var uppy = new U.Uppy({
    id: "webinar-upload-" + webinar + (replaces ? "-replace-" + replaces : ""),  // Golden Retriever keeps one state per webinar
    autoProceed: true,
    restrictions: { allowedFileTypes: allTypes, maxNumberOfFiles: replaces ? 1 : null },
    onBeforeFileAdded: function (file) {
      var kind = kindOf(file.name);
      if (kind && file.size > limits[kind]) {
        uppy.info(file.name + " is larger than the " + Math.round(limits[kind] / 1e6) + " MB accepted for " + kind, "error", 8000);
        return false;
      }
      return true;
    },
  });

  uppy.use(U.Dashboard, {
    target: root,
    inline: true,
    height: 420,
    width: "100%",
    showProgressDetails: true,  // speed and time left
    proudlyDisplayPoweredByUppy: false,
    note: "Recordings (" + extensions.recording.join(", ") + "), slides (" + extensions.slides.join(", ") +
          "), captions (" + extensions.captions.join(", ") + ")",
    metaFields: function (file) {
      return kindOf(file.name) === "captions"
        ? [{ id: "language", name: "Language", placeholder: "a language code, like en" }] : [];
    },
  });

  uppy.use(U.AwsS3, {
    shouldUseMultipart: true,  // every file, so that every upload can resume
    limit: parallel,  // parts in flight at once
    getChunkSize: function () { return partBytes; },
    retryDelays: [0, 1000, 3000, 5000, 10000, 20000, 30000],
    createMultipartUpload: function (file) {
      var kind = kindOf(file.name);
      return call("POST", base, {
        webinar: webinar, kind: kind, filename: file.name, size: file.size,
        language: kind === "captions" ? (file.meta.language || "en") : undefined,
        replaces: replaces || undefined,
      });
    },
    signPart: function (file, opts) {
      return call("POST", uploadUrl(opts.uploadId, "/parts/" + opts.partNumber), {}, opts.signal);
    },
    listParts: function (file, opts) {
      return call("GET", uploadUrl(opts.uploadId, "/parts"), undefined, opts.signal);
    },
    completeMultipartUpload: function (file, opts) {
      return call("POST", uploadUrl(opts.uploadId, "/complete"), { parts: opts.parts }, opts.signal)
        .then(function (data) { return { location: data.page, state: data.state }; });
    },
    abortMultipartUpload: function (file, opts) {
      return call("DELETE", uploadUrl(opts.uploadId));
    },
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
  uppy.on("upload-success", function (file) {
    report(file, "received; it is being processed", false);
  });
  uppy.on("upload-error", function (file, error) {
    report(file, (error && error.message) || "the upload failed", true);
  });

  window.webinarUploader = uppy;  // for the browser tests and the curious
})();
