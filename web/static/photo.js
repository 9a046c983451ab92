// A speaker's photo, saved as soon as it is chosen: our server signs a one-file form
// (POST /staff/speakers/<id>/photo/start), the browser POSTs the file straight to S3 on
// it (progress shown), then sends the key back to be checked and recorded. Every refusal
// is one sentence shown beside the file input.
(function () {
  "use strict";
  var texts = {};  // the page's words, the same for every photo field

  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (all, name) { return name in values ? values[name] : all; });
  }

  function csrf() {
    var meta = document.querySelector("meta[name=csrf-token]");
    return meta ? meta.content : "";
  }

  // One JSON call to our server; a refusal becomes an Error carrying the server's sentence.
  function call(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify(body),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) throw new Error(data.error || fill(texts.answered, { status: response.status }));
        return data;
      });
    });
  }

  // The file to S3 as a browser form would send it: the signed fields, then the file.
  function send(issued, file, onProgress) {
    return new Promise(function (resolve, reject) {
      var form = new FormData();
      Object.keys(issued.fields).forEach(function (name) { form.append(name, issued.fields[name]); });
      form.append("Content-Type", file.type);
      form.append("file", file);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", issued.url);
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) onProgress(e.loaded / e.total);
      });
      xhr.addEventListener("load", function () {
        if (xhr.status >= 200 && xhr.status < 300) resolve(issued.key);
        else reject(new Error(fill(texts.storeRefused, { status: xhr.status })));
      });
      xhr.addEventListener("error", function () { reject(new Error("The file could not be sent to the file store; try again.")); });
      xhr.send(form);
    });
  }

  function hook(box) {
    var input = box.querySelector("input[type=file]");
    var img = box.querySelector("img");
    var bar = box.querySelector("progress");
    var status = box.querySelector(".photo-status");
    var maxBytes = parseInt(box.dataset.maxBytes, 10);
    var types = box.dataset.types.split(",");
    texts = JSON.parse(box.dataset.texts);  // the page's words (_speakers.html)

    function say(text, refused) {
      status.textContent = text;
      status.classList.toggle("refused", !!refused);
      status.setAttribute("role", refused ? "alert" : "status");
    }

    input.addEventListener("change", function () {
      var file = input.files[0];
      if (!file) return;
      if (types.indexOf(file.type) < 0) { say(fill(texts.notImage, { file: file.name }), true); return; }
      if (file.size > maxBytes) {
        say(fill(texts.tooLarge, { file: file.name }), true);  // the server's own wording
        return;
      }
      input.disabled = true;
      bar.hidden = false;
      bar.value = 0;
      say(fill(texts.sending, { file: file.name }));
      call(box.dataset.startUrl, {})
        .then(function (issued) {
          return send(issued, file, function (fraction) { bar.value = Math.round(fraction * 100); });
        })
        .then(function (key) {
          say(fill(texts.checking, { file: file.name }));
          return call(box.dataset.finishUrl, { key: key });
        })
        .then(function (done) {
          img.src = done.url;
          img.hidden = false;
          say(done.message);
        })
        .catch(function (error) { say(file.name + ": " + error.message, true); })
        .then(function () {
          bar.hidden = true;
          input.disabled = false;
          input.value = "";
        });
    });
  }

  document.querySelectorAll("[data-photo]").forEach(hook);
})();
