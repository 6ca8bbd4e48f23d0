/* The phone form for shelter staff (/m/): plain DOM, the REST API, IndexedDB for unsent reports.
 *
 * Rules this file keeps:
 * - every text goes in through textContent (never HTML);
 * - only the fields the user changed are sent, with the version they saw (base_version);
 * - a report gets its Idempotency-Key when it is made, and keeps it until the server answers,
 *   so however often it is retried it is saved once;
 * - a report is removed from the phone only after the server answered it (2xx, or a refusal
 *   the user has seen); "送信しました" appears only after a 201. */
"use strict";

const VOCAB = JSON.parse(document.getElementById("dx-vocab").textContent);
const LANG = new URLSearchParams(location.search).get("lang") === "en" ? "en" : "ja";
const EN = LANG === "en";
const COUNTS = ["evacuees", "voluntary_evacuees", "households", "capacity"];
const TEXTS = { other_needs: 500, public_note: 500, internal_note: 2000 };
const RETRY_MS = 15000;

const T = {
  title: ["避難所の状況報告", "Shelter report"],
  mine: ["担当避難所", "Your shelters"],
  choose: ["報告する避難所を選んでください。", "Choose the shelter to report on."],
  none: ["担当の避難所がありません。本部に連絡してください。", "No shelters are assigned to you. Please call HQ."],
  last: ["最終報告", "Last report"],
  noReport: ["まだ報告はありません", "No report yet"],
  by: ["報告者", "by"],
  minAgo: ["分前", " min ago"],
  stale: ["報告が途絶えています", "Report overdue"],
  send: ["送信する", "Send"],
  sending: ["送信中…", "Sending…"],
  sent: ["送信しました", "Sent"],
  nothing: ["変更された項目がありません。", "Nothing was changed."],
  queued: ["未送信（電波が戻ると自動で送信します）", "Not sent yet (it is sent automatically when the connection is back)"],
  serverDown: [
    "保存できませんでした。通信または本部のサーバーに問題があります。入力は端末に残っています。",
    "Could not save: a network or HQ server problem. Your input is kept on this phone.",
  ],
  login: ["ログインの有効期限が切れました。ログインすると未送信の報告を送ります。", "Your login expired. Log in and the unsent report will be sent."],
  loginLink: ["ログインする", "Log in"],
  invalid: ["入力に誤りがあります。赤字の項目を直してください。送信していません。", "Some entries need fixing (in red). Nothing was sent."],
  refused: ["送信できませんでした", "Could not send"],
  discard: ["この報告を取り消す", "Discard this report"],
  conflictTitle: ["他の職員が同じ項目を先に更新しました", "Someone else changed the same fields first"],
  conflictHelp: [
    "送信していません。項目ごとに確かめてください。チェックした項目は他の職員の入力を残します。",
    "Nothing was sent. Check each field; ticked fields keep the other person's value.",
  ],
  field: ["項目", "Field"],
  yours: ["あなたの入力", "Your input"],
  theirs: ["他の職員の入力", "Other staff's input"],
  original: ["元の値", "Original value"],
  keepTheirs: ["他の職員の入力を残す", "Keep theirs"],
  reapply: ["確認したので自分の入力で送信する", "Checked: send my input"],
  dropMine: ["自分の入力を取り消す（送信しない）", "Drop my input (send nothing)"],
  check: ["確認してください", "Please check"],
  confirmed: ["この内容で正しい", "This is correct"],
  households: ["世帯数（{h}）が避難者数（{e}）より多くなっています。", "Households ({h}) exceed evacuees ({e})."],
  overCapacity: ["避難者数（{e}）が収容人数（{c}）の2倍を超えています。", "Evacuees ({e}) are more than twice the capacity ({c})."],
  whole: ["0以上の整数で入力してください", "Enter a whole number, 0 or more"],
  cantBlank: ["空欄にはできません。変えない場合は元の数のままにしてください", "Cannot be blank; leave the old number if it did not change"],
  voluntary: ["避難者数より多くできません（自主避難者は避難者数に含めます）", "Cannot exceed evacuees (voluntary evacuees are counted within evacuees)"],
  tooLong: ["{n}文字以内で入力してください", "Use at most {n} characters"],
  auto: ["自動（計算どおり）", "Automatic"],
  yes: ["可", "Yes"],
  no: ["不可", "No"],
  unknown: ["未確認", "Unknown"],
  correction: ["訂正として記録（入力ミスの修正。開設の通知はしません）", "Record as a correction (fixes a mistake; no announcement)"],
  drill: ["訓練 / DRILL — 実際の災害ではありません", "DRILL / 訓練 — this is not a real disaster"],
  back: ["← 担当避難所の一覧", "← Your shelters"],
  pendingHere: ["件の未送信の報告があります", " unsent report(s) here"],
  offlineData: ["電波がないため、前回読み込んだ内容を表示しています。", "No connection: showing what was loaded last time."],
  noData: ["電波がなく、この避難所の内容がまだ端末にありません。", "No connection, and this shelter was never loaded on this phone."],
  other: ["English", "日本語"],
  fullForm: ["詳しい画面（地図・ボード）", "Full screens (map & board)"],
  logout: ["ログアウト", "Log out"],
  logoutUnsent: ["未送信の報告があります。ログアウトすると送れません。ログアウトしますか？", "There are unsent reports; they cannot be sent after logging out. Log out?"],
};

function t(key, values) {
  let text = T[key][EN ? 1 : 0];
  for (const name in values || {}) text = text.split("{" + name + "}").join(String(values[name]));
  return text;
}
function label(group, code) {
  const found = VOCAB[group].find((item) => item[0] === code);
  return found ? found[EN ? 2 : 1] : String(code);
}
function fieldLabel(name) {
  const pair = VOCAB.fields[name];
  return pair ? pair[EN ? 1 : 0] : name;
}
function el(tag, attrs, children) {
  const node = document.createElement(tag);
  for (const key in attrs || {}) {
    const value = attrs[key];
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children || []) if (child) node.appendChild(child);
  return node;
}
function withLang(path) {
  return EN ? path + (path.includes("?") ? "&" : "?") + "lang=en" : path;
}
function clock(iso) {
  const at = new Date(iso);
  const hh = String(at.getHours()).padStart(2, "0");
  const mm = String(at.getMinutes()).padStart(2, "0");
  const minutes = Math.max(0, Math.floor((Date.now() - at.getTime()) / 60000));
  return hh + ":" + mm + (EN ? " (" + minutes + t("minAgo") + ")" : "（" + minutes + t("minAgo") + "）");
}
function same(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}
function shown(name, value) {
  if (value === null || value === undefined || value === "") return "—";
  if (name === "open_state") return label("open_state", value);
  if (name === "crowding_override") return label("crowding", value);
  if (Array.isArray(value)) return value.map((v) => label("needs", v)).join(EN ? ", " : "、") || "—";
  if (value === true) return t("yes");
  if (value === false) return t("no");
  return String(value);
}

/* -- IndexedDB: the outbox of reports not yet answered by the server ---------------------- */

let dbPromise = null;
function db() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const open = indexedDB.open("dx-phone", 1);
      open.onupgradeneeded = () => open.result.createObjectStore("outbox", { keyPath: "id" });
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
  }
  return dbPromise;
}
async function store(mode, action) {
  const database = await db();
  return new Promise((resolve, reject) => {
    const tx = database.transaction("outbox", mode);
    const request = action(tx.objectStore("outbox"));
    tx.oncomplete = () => resolve(request ? request.result : undefined);
    tx.onerror = () => reject(tx.error);
  });
}
const outbox = {
  all: async () => ((await store("readonly", (s) => s.getAll())) || []).sort((a, b) => a.createdAt - b.createdAt),
  put: (entry) => store("readwrite", (s) => s.put(entry)),
  remove: (id) => store("readwrite", (s) => s.delete(id)),
};
function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/* -- the API ------------------------------------------------------------------------------- */

let csrf = null;
async function api(path, options) {
  const headers = Object.assign({ "Accept-Language": EN ? "en" : "ja" }, (options || {}).headers);
  return fetch(path, Object.assign({ credentials: "same-origin" }, options, { headers }));
}
async function csrfToken(fresh) {
  if (csrf && !fresh) return csrf;
  const response = await api("/api/v1/me");
  if (!response.ok) return null;
  csrf = (await response.json()).csrf_token;
  return csrf;
}

/* Send one report. Returns what happened: "sent", "offline", "down", "login", "conflict",
 * "invalid" or "refused"; the entry is updated or removed accordingly. */
async function deliver(entry) {
  let response;
  try {
    let token = await csrfToken(false);
    for (let attempt = 0; attempt < 2; attempt += 1) {
      response = await api("/api/v1/shelters/" + encodeURIComponent(entry.shelterId) + "/reports", {
        method: "POST",
        headers: { "Content-Type": "application/json", "Idempotency-Key": entry.key, "X-CSRF-Token": token || "" },
        body: JSON.stringify(entry.body),
      });
      if (response.status !== 403 || attempt) break;
      const problem = await response.clone().json().catch(() => ({}));
      if (!String(problem.type || "").endsWith(":csrf")) break;
      token = await csrfToken(true); // the session was renewed: take its token and retry once
    }
  } catch (error) {
    entry.left = entry.left || navigator.onLine; // it may have reached the server
    entry.state = "offline";
    await outbox.put(entry);
    return "offline";
  }
  if (response.status === 401 || response.redirected) {
    entry.state = "login";
    await outbox.put(entry);
    return "login";
  }
  if (response.status >= 500) {
    entry.left = true;
    entry.state = "down";
    await outbox.put(entry);
    return "down";
  }
  const body = await response.json().catch(() => ({}));
  if (response.status === 201) {
    await outbox.remove(entry.id);
    entry.answer = body;
    return "sent";
  }
  entry.left = true;
  entry.problem = body;
  entry.state = response.status === 409 && body.fields ? "conflict" : response.status === 422 ? "invalid" : "refused";
  await outbox.put(entry);
  return entry.state;
}

let flushing = false;
async function flush() {
  if (flushing) return;
  flushing = true;
  const results = [];
  try {
    for (const entry of await outbox.all()) {
      if (["conflict", "invalid", "refused"].includes(entry.state)) continue; // waits for the user
      const result = await deliver(entry);
      results.push([entry, result]);
      if (result === "offline" || result === "down" || result === "login") break; // keep the order
    }
  } finally {
    flushing = false;
  }
  await view.afterFlush(results);
}

/* -- pages ----------------------------------------------------------------------------------- */

const main = document.getElementById("main");
const net = document.getElementById("net");
let view = { afterFlush: async () => {} };

function say(key, kind, extra) {
  net.hidden = false;
  net.className = "net " + (kind || "");
  net.textContent = t(key);
  if (extra) net.appendChild(extra);
}
function quiet() {
  net.hidden = true;
  net.textContent = "";
}
function loginLink() {
  return el("a", { href: "/login?next=" + encodeURIComponent(location.pathname + location.search), text: " " + t("loginLink") });
}
function showState(result) {
  if (result === "offline") say("queued", "warn");
  else if (result === "down") say("serverDown", "error");
  else if (result === "login") say("login", "error", loginLink());
}

function header(incident) {
  document.title = t("title");
  document.getElementById("title").textContent = t("title");
  document.documentElement.lang = LANG;
  const nav = document.getElementById("nav");
  nav.textContent = "";
  const other = new URL(location.href);
  if (EN) other.searchParams.delete("lang");
  else other.searchParams.set("lang", "en");
  nav.appendChild(el("a", { href: other.pathname + other.search, lang: EN ? "ja" : "en", text: t("other") }));
  nav.appendChild(el("button", { type: "button", class: "link", text: t("logout"), onclick: logout }));
  const drill = document.getElementById("drill");
  drill.hidden = !(incident && incident.drill);
  drill.textContent = incident && incident.drill ? t("drill") + "（" + incident.title + "）" : "";
}

async function logout() {
  const unsent = await outbox.all();
  if (unsent.length && !confirm(t("logoutUnsent"))) return;
  const token = await csrfToken(false).catch(() => null);
  for (const name of await caches.keys()) if (name.startsWith("dx-phone-")) await caches.delete(name);
  for (const entry of unsent) await outbox.remove(entry.id);
  const form = el("form", { method: "POST", action: "/logout" }, [el("input", { type: "hidden", name: "csrf_token", value: token || "" })]);
  document.body.appendChild(form);
  form.submit();
}

async function getJson(path) {
  const response = await api(path);
  if (response.status === 401 || response.redirected) {
    location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
    return null;
  }
  if (!response.ok) throw new Error("HTTP " + response.status);
  return { data: await response.json(), offline: response.headers.get("Date") && !navigator.onLine };
}

async function listPage() {
  let got;
  try {
    got = await getJson(withLang("/api/v1/shelters"));
  } catch (error) {
    header(null);
    main.textContent = "";
    main.appendChild(el("p", { class: "error", text: t("noData") }));
    return;
  }
  if (!got) return;
  const { incident, shelters } = got.data;
  header(incident);
  const pending = await outbox.all();
  main.textContent = "";
  main.appendChild(el("h2", { text: t("mine") }));
  main.appendChild(el("p", { text: shelters.length ? t("choose") : t("none") }));
  const list = el("ul", { class: "shelters" });
  for (const shelter of shelters) {
    const waiting = pending.filter((e) => e.shelterId === shelter.id).length;
    const last = shelter.reported_at
      ? t("last") + " " + clock(shelter.reported_at) + (shelter.reported_by ? " " + shelter.reported_by.name : "")
      : t("noReport");
    list.appendChild(
      el("li", {}, [
        el("a", { href: withLang("/m/shelter/" + encodeURIComponent(shelter.id)) }, [
          el("strong", { text: shelter.name }),
          el("span", { class: "badge", text: label("open_state", shelter.fields.open_state) }),
          el("span", { class: "muted", text: last }),
          shelter.stale ? el("span", { class: "warn", text: t("stale") }) : null,
          waiting ? el("span", { class: "warn", text: waiting + t("pendingHere") }) : null,
        ]),
      ])
    );
  }
  main.appendChild(list);
  main.appendChild(el("p", {}, [el("a", { href: withLang("/hq"), class: "tap", text: t("fullForm") })]));
  if (pending.length) showState(pending[pending.length - 1].state);
  view = { afterFlush: async (results) => { if (results.length) { const last = results[results.length - 1][1]; if (last === "sent") quiet(); else showState(last); } } };
  document.body.dataset.ready = "1";
}

/* -- the form ---------------------------------------------------------------------------- */

function control(name) {
  return document.getElementById("f-" + name);
}
function radios(name, options, value) {
  const group = el("div", { class: "choices", role: "radiogroup", "aria-labelledby": "l-" + name, id: "f-" + name });
  for (const [code, text] of options) {
    const id = "f-" + name + "-" + code;
    group.appendChild(
      el("label", { class: "choice", for: id }, [
        el("input", { type: "radio", name, id, value: code, checked: same(code, value) }),
        el("span", { text }),
      ])
    );
  }
  return group;
}
function checks(name, value) {
  const group = el("div", { class: "choices", role: "group", "aria-labelledby": "l-" + name, id: "f-" + name });
  for (const [code] of VOCAB.needs) {
    const id = "f-" + name + "-" + code;
    group.appendChild(
      el("label", { class: "choice", for: id }, [
        el("input", { type: "checkbox", name, id, value: code, checked: value.includes(code) }),
        el("span", { text: label("needs", code) }),
      ])
    );
  }
  return group;
}
function fieldBox(name, input, hint) {
  const title = el("span", { class: "label", id: "l-" + name, text: fieldLabel(name) });
  const head = input.tagName === "DIV" ? title : el("label", { class: "label", for: "f-" + name, id: "l-" + name, text: fieldLabel(name) });
  return el("div", { class: "field", id: "box-" + name }, [
    head,
    input,
    hint ? el("small", { class: "muted", text: hint }) : null,
    el("div", { class: "field-error", id: "err-" + name, role: "alert" }),
  ]);
}
const TRI = () => [["yes", t("yes")], ["no", t("no")], ["unknown", t("unknown")]];
function tri(value) {
  return value === true ? "yes" : value === false ? "no" : "unknown";
}

/* What the form shows now, as API values (counts: a number, null for blank, or NaN for junk). */
function readForm() {
  const values = {};
  const picked = (name) => {
    const on = document.querySelector('input[name="' + name + '"]:checked');
    return on ? on.value : null;
  };
  values.open_state = picked("open_state");
  for (const name of COUNTS) {
    const text = control(name).value.trim();
    values[name] = text === "" ? null : /^\d+$/.test(text) ? Number(text) : NaN;
  }
  const crowd = control("crowding_override").value;
  values.crowding_override = crowd === "auto" ? null : crowd;
  for (const name of ["needs", "urgent_needs"]) {
    values[name] = Array.from(document.querySelectorAll('input[name="' + name + '"]:checked'), (i) => i.value).sort();
  }
  for (const name of ["pets_accepted", "barrier_free"]) {
    const v = picked(name);
    values[name] = v === "yes" ? true : v === "no" ? false : null;
  }
  for (const name in TEXTS) values[name] = control(name).value.trim();
  return values;
}

function fillForm(values) {
  for (const name of ["open_state", "pets_accepted", "barrier_free"]) {
    const code = name === "open_state" ? values[name] : tri(values[name]);
    const box = document.getElementById("f-" + name + "-" + code);
    if (box) box.checked = true;
  }
  for (const name of COUNTS) control(name).value = values[name] === null || values[name] === undefined ? "" : String(values[name]);
  control("crowding_override").value = values.crowding_override || "auto";
  for (const name of ["needs", "urgent_needs"]) {
    for (const input of document.querySelectorAll('input[name="' + name + '"]')) input.checked = (values[name] || []).includes(input.value);
  }
  for (const name in TEXTS) control(name).value = values[name] || "";
}

function clearErrors() {
  for (const node of document.querySelectorAll(".field-error")) node.textContent = "";
  for (const node of document.querySelectorAll(".field.bad")) node.classList.remove("bad");
}
function fieldError(name, text) {
  const node = document.getElementById("err-" + name);
  if (!node) return false;
  node.textContent = text;
  document.getElementById("box-" + name).classList.add("bad");
  return true;
}

async function formPage(shelterId) {
  let shelter;
  let incident;
  let stale = false;
  try {
    const got = await getJson(withLang("/api/v1/shelters/" + encodeURIComponent(shelterId)));
    if (!got) return;
    shelter = got.data.shelter;
    incident = got.data.incident;
    stale = !navigator.onLine;
  } catch (error) {
    header(null);
    main.textContent = "";
    main.appendChild(el("p", { class: "error", text: t("noData") }));
    main.appendChild(el("p", {}, [el("a", { href: withLang("/m/"), class: "tap", text: t("back") })]));
    return;
  }
  header(incident);
  let base = shelter.fields; // what the user saw: the version the report is based on
  let baseVersion = shelter.version;

  main.textContent = "";
  main.appendChild(el("p", {}, [el("a", { href: withLang("/m/"), class: "tap", text: t("back") })]));
  main.appendChild(el("h2", { id: "shelter-name", text: shelter.name }));
  main.appendChild(el("p", { class: "muted", text: shelter.address }));
  const last = el("p", { id: "last-report", class: "last" });
  main.appendChild(last);
  if (stale) main.appendChild(el("p", { class: "warn", text: t("offlineData") }));
  const showLast = (s) => {
    last.textContent = s.reported_at
      ? t("last") + ": " + clock(s.reported_at) + (s.reported_by ? "　" + t("by") + ": " + s.reported_by.name : "")
      : t("noReport");
  };
  showLast(shelter);

  const form = el("form", { id: "report", novalidate: true });
  form.appendChild(fieldBox("open_state", radios("open_state", VOCAB.open_state.map((s) => [s[0], EN ? s[2] : s[1]]), base.open_state)));
  const grid = el("div", { class: "grid2" });
  for (const name of COUNTS) {
    const input = el("input", { id: "f-" + name, name, type: "text", inputmode: "numeric", pattern: "[0-9]*", autocomplete: "off" });
    grid.appendChild(fieldBox(name, input, name === "capacity" && shelter.master_capacity ? (EN ? "Master: " : "台帳: ") + shelter.master_capacity : ""));
  }
  form.appendChild(grid);
  const crowd = el("select", { id: "f-crowding_override", name: "crowding_override" });
  crowd.appendChild(el("option", { value: "auto", text: t("auto") }));
  for (const [code] of VOCAB.crowding) crowd.appendChild(el("option", { value: code, text: label("crowding", code) }));
  form.appendChild(fieldBox("crowding_override", crowd));
  form.appendChild(fieldBox("needs", checks("needs", base.needs)));
  form.appendChild(fieldBox("urgent_needs", checks("urgent_needs", base.urgent_needs)));
  form.appendChild(fieldBox("other_needs", el("input", { id: "f-other_needs", name: "other_needs", type: "text", maxlength: TEXTS.other_needs })));
  const pair = el("div", { class: "grid2" });
  pair.appendChild(fieldBox("pets_accepted", radios("pets_accepted", TRI(), tri(base.pets_accepted))));
  pair.appendChild(fieldBox("barrier_free", radios("barrier_free", TRI(), tri(base.barrier_free))));
  form.appendChild(pair);
  form.appendChild(fieldBox("public_note", el("textarea", { id: "f-public_note", name: "public_note", rows: "3", maxlength: TEXTS.public_note })));
  form.appendChild(fieldBox("internal_note", el("textarea", { id: "f-internal_note", name: "internal_note", rows: "3", maxlength: TEXTS.internal_note })));
  form.appendChild(el("label", { class: "choice wide", for: "f-correction" }, [el("input", { type: "checkbox", id: "f-correction" }), el("span", { text: t("correction") })]));
  const questions = el("div", { id: "questions", class: "questions", hidden: true });
  form.appendChild(questions);
  const sendButton = el("button", { type: "submit", id: "send", class: "primary", text: t("send") });
  form.appendChild(sendButton);
  const result = el("div", { id: "result", role: "status", "aria-live": "polite" });
  form.appendChild(result);
  const conflictBox = el("div", { id: "conflict" });
  main.appendChild(form);
  main.appendChild(conflictBox);
  fillForm(base);

  /* Pending reports for this shelter: show their values in the form, and their state. */
  const mineWaiting = async () => (await outbox.all()).filter((e) => e.shelterId === shelterId);
  const restore = async () => {
    const waiting = await mineWaiting();
    if (!waiting.length) return;
    const values = Object.assign({}, base);
    for (const entry of waiting) Object.assign(values, entry.body.fields);
    fillForm(values);
    const lastEntry = waiting[waiting.length - 1];
    if (lastEntry.state === "conflict") showConflict(lastEntry);
    else if (lastEntry.state === "invalid") showInvalid(lastEntry);
    else if (lastEntry.state === "refused") showRefused(lastEntry);
    else showState(lastEntry.state);
  };

  const refresh = async (answer) => {
    try {
      const got = await getJson(withLang("/api/v1/shelters/" + encodeURIComponent(shelterId)));
      if (!got) return;
      shelter = got.data.shelter;
      if (!(await mineWaiting()).length) {
        base = shelter.fields;
        baseVersion = shelter.version;
        fillForm(base);
      }
      showLast(shelter);
    } catch (error) {
      if (answer) baseVersion = answer.version; // offline right after a save: keep going
    }
  };

  function plausibility(values) {
    const asked = [];
    const e = values.evacuees;
    const h = values.households;
    const c = values.capacity !== null ? values.capacity : shelter.master_capacity;
    if (Number.isInteger(h) && Number.isInteger(e) && h > e) asked.push(["households", t("households", { h, e })]);
    if (Number.isInteger(e) && Number.isInteger(c) && c > 0 && e > 2 * c) asked.push(["capacity", t("overCapacity", { e, c })]);
    return asked;
  }

  function check(values, changed) {
    let ok = true;
    const bad = (name, text) => {
      fieldError(name, text);
      ok = false;
    };
    for (const name of COUNTS) {
      if (Number.isNaN(values[name])) bad(name, t("whole"));
      else if (values[name] === null && base[name] !== null && name !== "capacity" && name in changed) bad(name, t("cantBlank"));
    }
    const { evacuees, voluntary_evacuees: voluntary } = values;
    if (Number.isInteger(voluntary) && Number.isInteger(evacuees) && voluntary > evacuees) bad("voluntary_evacuees", t("voluntary"));
    for (const name in TEXTS) if (values[name].length > TEXTS[name]) bad(name, t("tooLong", { n: TEXTS[name] }));
    return ok;
  }

  function changes(values) {
    const changed = {};
    for (const name in values) {
      const before = base[name] === undefined ? null : base[name];
      if (!same(values[name], before)) changed[name] = values[name];
    }
    return changed;
  }

  function confirmQuestions(asked) {
    const key = JSON.stringify(asked.map((a) => a[1]));
    if (questions.dataset.key === key && Array.from(questions.querySelectorAll("input")).every((i) => i.checked)) return true;
    questions.dataset.key = key;
    questions.textContent = "";
    questions.hidden = false;
    questions.appendChild(el("p", { class: "label", text: t("check") }));
    asked.forEach(([name, text], index) => {
      questions.appendChild(
        el("label", { class: "choice wide", for: "q-" + index }, [
          el("input", { type: "checkbox", id: "q-" + index, "data-field": name }),
          el("span", { text: text + " " + t("confirmed") }),
        ])
      );
    });
    questions.querySelector("input").focus();
    return false;
  }

  async function submit(event) {
    event.preventDefault();
    clearErrors();
    result.textContent = "";
    conflictBox.textContent = "";
    const values = readForm();
    const waiting = await mineWaiting();
    // Fields already in an unsent report count as the user's too (compare with them).
    const seen = Object.assign({}, base);
    for (const entry of waiting) Object.assign(seen, entry.body.fields);
    let changed = {};
    for (const name in values) if (!same(values[name], seen[name] === undefined ? null : seen[name])) changed[name] = values[name];
    if (!check(values, changes(values))) {
      result.textContent = t("invalid");
      result.className = "error";
      return;
    }
    for (const name of COUNTS) if (values[name] === null && name !== "capacity") delete changed[name];
    if (!Object.keys(changed).length) {
      result.textContent = t("nothing");
      result.className = "muted";
      return;
    }
    const asked = plausibility(values);
    if (asked.length && !confirmQuestions(asked)) return;
    questions.hidden = true;
    questions.dataset.key = "";
    const correction = document.getElementById("f-correction").checked;
    // A report that provably never left the phone is merged with this one (one key, one write).
    const unsent = waiting.find((e) => !e.left && e.state === "offline");
    let entry;
    if (unsent) {
      entry = unsent;
      entry.body.fields = Object.assign({}, entry.body.fields, changed);
      entry.body.correction = entry.body.correction && correction;
      entry.key = newKey();
    } else {
      const original = {};
      for (const name in changed) original[name] = seen[name] === undefined ? null : seen[name];
      entry = {
        id: newKey(),
        key: newKey(),
        shelterId,
        createdAt: Date.now(),
        original,
        body: { base_version: baseVersion, fields: changed, correction, reason: correction ? (EN ? "correction from the phone form" : "スマートフォンの画面からの訂正") : "" },
        state: "new",
      };
    }
    await outbox.put(entry);
    sendButton.disabled = true;
    result.textContent = t("sending");
    result.className = "muted";
    await flush();
    sendButton.disabled = false;
  }
  form.addEventListener("submit", submit);

  function showInvalid(entry) {
    clearErrors();
    let placed = false;
    for (const error of (entry.problem && entry.problem.errors) || []) placed = fieldError(error.field, error.detail) || placed;
    result.className = "error";
    result.textContent = t("invalid") + (placed ? "" : " " + ((entry.problem && entry.problem.detail) || ""));
    discardButton(entry, result);
  }
  function showRefused(entry) {
    result.className = "error";
    result.textContent = t("refused") + ": " + ((entry.problem && (entry.problem.detail || entry.problem.title)) || "");
    discardButton(entry, result);
  }
  function discardButton(entry, where) {
    where.appendChild(
      el("button", {
        type: "button",
        class: "secondary",
        text: t("discard"),
        onclick: async () => {
          await outbox.remove(entry.id);
          result.textContent = "";
          conflictBox.textContent = "";
          await refresh(null);
          fillForm(base);
        },
      })
    );
  }

  function showConflict(entry) {
    const problem = entry.problem || {};
    const current = problem.current || {};
    result.className = "error";
    result.textContent = problem.title || t("conflictTitle");
    conflictBox.textContent = "";
    const table = el("table", { class: "conflict" }, [
      el("thead", {}, [el("tr", {}, [el("th", { text: t("field") }), el("th", { text: t("yours") }), el("th", { text: t("theirs") }), el("th", { text: t("original") })])]),
    ]);
    const body = el("tbody");
    let fields = problem.fields || {};
    if (!Object.keys(fields).length) {
      // A server without per-field merge names no fields: compare the newest state with ours.
      fields = {};
      for (const name in entry.body.fields) {
        const theirs = (current.fields || {})[name];
        if (!same(theirs, entry.original[name])) {
          fields[name] = { mine: entry.body.fields[name], theirs, original: entry.original[name], by: current.reported_by, at: current.reported_at };
        }
      }
    }
    for (const name in fields) {
      const item = fields[name];
      const by = item.by ? item.by.name + (item.at ? " " + clock(item.at) : "") : "";
      body.appendChild(
        el("tr", { "data-field": name }, [
          el("th", { scope: "row", text: fieldLabel(name) }),
          el("td", { class: "mine", text: shown(name, item.mine) }),
          el("td", { class: "theirs" }, [el("span", { text: shown(name, item.theirs) }), by ? el("small", { class: "muted", text: by }) : null]),
          el("td", { class: "original", text: shown(name, item.original) }),
        ])
      );
      body.appendChild(
        el("tr", { class: "keep" }, [
          el("td", { colspan: "4" }, [
            el("label", { class: "choice wide", for: "keep-" + name }, [el("input", { type: "checkbox", id: "keep-" + name, value: name }), el("span", { text: t("keepTheirs") })]),
          ]),
        ])
      );
    }
    table.appendChild(body);
    conflictBox.appendChild(el("section", { class: "conflict-box", role: "alert" }, [
      el("h3", { id: "conflict-heading", text: t("conflictTitle") }),
      el("p", { text: t("conflictHelp") }),
      table,
      el("button", {
        type: "button",
        id: "reapply",
        class: "primary",
        text: t("reapply"),
        onclick: async () => {
          const kept = Array.from(conflictBox.querySelectorAll("input:checked"), (i) => i.value);
          await outbox.remove(entry.id);
          const fieldsToSend = {};
          for (const name in entry.body.fields) if (!kept.includes(name)) fieldsToSend[name] = entry.body.fields[name];
          conflictBox.textContent = "";
          if (!Object.keys(fieldsToSend).length) {
            await refresh(null);
            result.textContent = t("nothing");
            return;
          }
          // The user saw the newest values: send only their own fields, on that version.
          const again = {
            id: newKey(),
            key: newKey(),
            shelterId,
            createdAt: Date.now(),
            original: {},
            body: Object.assign({}, entry.body, { base_version: problem.current_version, fields: fieldsToSend }),
            state: "new",
          };
          for (const name in fieldsToSend) again.original[name] = (current.fields || {})[name];
          await outbox.put(again);
          result.textContent = t("sending");
          await flush();
        },
      }),
      el("button", {
        type: "button",
        class: "secondary",
        text: t("dropMine"),
        onclick: async () => {
          await outbox.remove(entry.id);
          conflictBox.textContent = "";
          result.textContent = "";
          await refresh(null);
          fillForm(base);
        },
      }),
    ]));
    if (current.version !== undefined) {
      base = Object.assign({}, current.fields);
      showLast(current);
    }
    conflictBox.scrollIntoView({ block: "start" });
  }

  view = {
    afterFlush: async (results) => {
      for (const [entry, outcome] of results) {
        if (entry.shelterId !== shelterId) continue;
        if (outcome === "sent") {
          quiet();
          result.className = "ok";
          const at = entry.answer && entry.answer.at ? clock(entry.answer.at).split(/[（ ]/)[0] : "";
          result.textContent = t("sent") + (at ? (EN ? " (" + at + ")" : "（" + at + "）") : "");
          await refresh(entry.answer);
        } else if (outcome === "conflict") showConflict(entry);
        else if (outcome === "invalid") showInvalid(entry);
        else if (outcome === "refused") showRefused(entry);
        else {
          showState(outcome);
          // Also next to the button, where the user is looking.
          result.className = outcome === "offline" ? "warn" : "error";
          result.textContent = net.textContent;
          result.scrollIntoView({ block: "center" });
        }
      }
    },
  };
  await restore();
  document.body.dataset.ready = "1";
}

/* -- start ------------------------------------------------------------------------------- */

async function start() {
  const path = location.pathname;
  const match = path.match(/^\/m\/shelter\/([^/]+)$/);
  if (match) await formPage(decodeURIComponent(match[1]));
  else await listPage();
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/m/sw.js", { scope: "/m/" }).catch(() => {});
  window.addEventListener("online", flush);
  setInterval(async () => { if ((await outbox.all()).some((e) => !["conflict", "invalid", "refused"].includes(e.state))) flush(); }, RETRY_MS);
  if ((await outbox.all()).length) flush();
}
start();
