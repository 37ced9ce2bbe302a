// LAPOR! web chat page: WebSocket client, choices as buttons, uploads, ID/EN chrome. No dependencies.
(function () {
  "use strict";
  var UI = {
    id: { title: "LAPOR! Bot", connecting: "Menghubungkan…", online: "Terhubung", offline: "Terputus, mencoba lagi…",
          send: "Kirim", placeholder: "Tulis pesan…", message: "Pesan", attach: "Lampirkan foto atau PDF (maks. 5 MB)",
          skip: "Langsung ke kotak pesan", tooBig: "Berkas lebih dari 5 MB.", badType: "Hanya JPG, PNG, atau PDF.",
          uploading: "Mengunggah…", location: "Kirim lokasi saya", conversation: "Percakapan", choices: "Pilihan" },
    en: { title: "LAPOR! Bot", connecting: "Connecting…", online: "Connected", offline: "Disconnected, retrying…",
          send: "Send", placeholder: "Type a message…", message: "Message", attach: "Attach a photo or PDF (max. 5 MB)",
          skip: "Skip to the message box", tooBig: "The file is larger than 5 MB.", badType: "Only JPG, PNG or PDF.",
          uploading: "Uploading…", location: "Send my location", conversation: "Conversation", choices: "Choices" }
  };
  var MAX = 5 * 1024 * 1024, TYPES = ["image/jpeg", "image/png", "application/pdf"];
  var lang = localStorage.getItem("lapor.lang") || ((navigator.language || "id").slice(0, 2) === "en" ? "en" : "id");
  var log = document.getElementById("log"), choicesBox = document.getElementById("choices");
  var input = document.getElementById("input"), form = document.getElementById("composer");
  var statusEl = document.getElementById("status"), fileInput = document.getElementById("file");
  var fileInfo = document.getElementById("fileinfo");
  var ws = null, queue = [], retry = 500, seq = 0;

  function t(key) { return (UI[lang] || UI.id)[key] || key; }
  function applyLang() {
    document.documentElement.lang = lang;
    document.querySelectorAll("[data-i18n]").forEach(function (el) { el.textContent = t(el.getAttribute("data-i18n")); });
    document.querySelectorAll("[data-i18n-placeholder]").forEach(function (el) { el.placeholder = t(el.getAttribute("data-i18n-placeholder")); });
    document.querySelectorAll("[data-lang]").forEach(function (b) { b.setAttribute("aria-pressed", String(b.getAttribute("data-lang") === lang)); });
    log.setAttribute("aria-label", t("conversation"));
    choicesBox.setAttribute("aria-label", t("choices"));
  }
  function newId() { seq += 1; return Date.now().toString(36) + "-" + seq + "-" + Math.random().toString(36).slice(2, 8); }
  function scroll() { var m = document.querySelector("main"); m.scrollTop = m.scrollHeight; }
  function add(cls, text) {
    var li = document.createElement("li"); li.className = cls; li.textContent = text; log.appendChild(li); scroll(); return li;
  }
  function setChoices(choices, requestLocation) {
    choicesBox.innerHTML = "";
    (choices || []).forEach(function (c) {
      var b = document.createElement("button"); b.type = "button"; b.textContent = c.label;
      b.addEventListener("click", function () { add("me", c.label); setChoices([]); send({ type: "choice", payload: c.payload, label: c.label }); });
      choicesBox.appendChild(b);
    });
    if (requestLocation && navigator.geolocation) {
      var lb = document.createElement("button"); lb.type = "button"; lb.textContent = "📍 " + t("location");
      lb.addEventListener("click", function () {
        navigator.geolocation.getCurrentPosition(function (pos) {
          add("me", "📍 " + pos.coords.latitude.toFixed(5) + ", " + pos.coords.longitude.toFixed(5)); setChoices([]);
          send({ type: "location", latitude: pos.coords.latitude, longitude: pos.coords.longitude });
        });
      });
      choicesBox.appendChild(lb);
    }
    scroll();
  }
  function send(frame) {
    frame.id = frame.id || newId();
    if (ws && ws.readyState === 1) { ws.send(JSON.stringify(frame)); } else { queue.push(frame); }
  }
  function onFrame(f) {
    if (f.type === "history") {
      log.innerHTML = "";
      var last = null;
      (f.messages || []).forEach(function (m) { add(m.dir === "in" ? "me" : "bot", m.text); if (m.dir === "out") last = m; });
      setChoices(last && last === f.messages[f.messages.length - 1] ? last.choices : []);
    } else if (f.type === "bot") {
      add("bot", f.text); setChoices(f.choices, f.request_location);
    } else if (f.type === "error") {
      add("err", f.text);
    }
  }
  function connect() {
    var proto = location.protocol === "https:" ? "wss://" : "ws://";
    ws = new WebSocket(proto + location.host + "/webchat/ws");
    ws.onopen = function () {
      retry = 500; statusEl.textContent = t("online"); statusEl.dataset.state = "online";
      while (queue.length) ws.send(JSON.stringify(queue.shift()));
    };
    ws.onmessage = function (e) { try { onFrame(JSON.parse(e.data)); } catch (err) { /* ignore a bad frame */ } };
    ws.onclose = function () {
      statusEl.textContent = t("offline"); statusEl.dataset.state = "offline";
      setTimeout(connect, retry); retry = Math.min(retry * 2, 10000);
    };
  }
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value.trim(); if (!text) return;
    add("me", text); setChoices([]); input.value = ""; send({ type: "text", text: text }); input.focus();
  });
  input.addEventListener("keydown", function (e) { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); } });
  fileInput.addEventListener("change", function () {
    var f = fileInput.files[0]; fileInput.value = ""; fileInfo.hidden = true;
    if (!f) return;
    if (f.size > MAX) { fileInfo.textContent = t("tooBig"); fileInfo.hidden = false; return; }
    if (TYPES.indexOf(f.type) < 0) { fileInfo.textContent = t("badType"); fileInfo.hidden = false; return; }
    var li = add("me", "📎 " + f.name + " — " + t("uploading"));
    var body = new FormData(); body.append("file", f, f.name);
    fetch("/webchat/upload?lang=" + lang, { method: "POST", body: body, credentials: "same-origin" })
      .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, j: j }; }); })
      .then(function (res) {
        if (!res.ok) { li.remove(); fileInfo.textContent = res.j.error || t("badType"); fileInfo.hidden = false; return; }
        li.textContent = "📎 " + res.j.filename; setChoices([]);
        send({ type: "file", upload: res.j.upload, text: "" });
      });
  });
  document.querySelectorAll("[data-lang]").forEach(function (b) {
    b.addEventListener("click", function () {
      lang = b.getAttribute("data-lang"); localStorage.setItem("lapor.lang", lang); applyLang();
      send({ type: "lang", lang: lang });
    });
  });
  applyLang();
  connect();
})();
