// The playground: a form built from the state's JSON Schema, the advice, explain / what-if, a rule editor.
// Plain JavaScript, no build step, no network beyond this server (all URLs are relative).
"use strict";

const $ = (id) => document.getElementById(id);
let stateSchema = null;
let adviseTimer = null;
let lintTimer = null;
let adviseSeq = 0;
let lintSeq = 0;
const UNKNOWN = "";

// -- small DOM helpers -------------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function say(message) {
  $("status").textContent = message || "";
}

function show(value) {
  if (value === null || value === undefined) return "unknown";
  if (typeof value === "boolean") return value ? "yes" : "no";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

// -- talking to the API ------------------------------------------------------------------------

async function api(method, path, body) {
  const headers = { "Accept": "application/json, application/problem+json" };
  const key = $("api-key").value.trim();
  if (key) headers["X-API-Key"] = key;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await response.json().catch(() => ({ detail: response.statusText }));
  if (!response.ok) {
    const error = new Error(data.detail || response.statusText);
    error.problem = data;
    throw error;
  }
  return data;
}

// -- the state form, from the JSON Schema --------------------------------------------------------

function resolve(schema, node) {
  if (node && node.$ref) return resolve(schema, schema.$defs[node.$ref.split("/").pop()]);
  if (node && node.anyOf) {
    const nonNull = node.anyOf.filter((n) => n.type !== "null");
    const nullable = nonNull.length < node.anyOf.length;
    const inner = resolve(schema, nonNull[0]);
    return Object.assign({}, inner, { title: node.title || inner.title, description: node.description || inner.description, nullable });
  }
  return node || {};
}

function words(name) {
  return name.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
}

function control(path, name, prop) {
  const id = "f-" + path.replace(/\./g, "-");
  const labelText = prop.title || words(name);
  const label = el("label", { for: id, text: labelText });
  let input;
  // A field the user may not know offers "unknown"; one with a fixed default (phase, deadlock,
  // authority claims) says what leaving it unset means instead: unknown is not a value there.
  const canBeUnknown = prop.nullable || (prop.enum && prop.enum.includes("unknown"));
  const shown = (v) => (typeof v === "boolean" ? (v ? "yes" : "no") : words(String(v)));
  const unset = canBeUnknown || prop.default === undefined ? "unknown" : "default: " + shown(prop.default);
  if (prop.enum) {
    const values = prop.enum.filter((v) => v !== "unknown");
    input = el("select", { id, name: path, "data-kind": "enum" },
      el("option", { value: UNKNOWN, text: unset }),
      values.map((v) => el("option", { value: v, text: words(String(v)) })));
  } else if (prop.type === "boolean") {
    input = el("select", { id, name: path, "data-kind": "bool" },
      el("option", { value: UNKNOWN, text: unset }),
      el("option", { value: "true", text: "yes" }),
      el("option", { value: "false", text: "no" }));
  } else if (prop.type === "integer" || prop.type === "number") {
    input = el("input", { id, name: path, type: "number", min: prop.minimum, max: prop.maximum, step: prop.type === "integer" ? "1" : "any",
      placeholder: unset, "data-kind": prop.type, inputmode: "numeric" });
  } else {
    input = el("input", { id, name: path, type: "text", placeholder: "unknown", "data-kind": "string" });
  }
  if (prop.description) input.setAttribute("title", prop.description);
  input.addEventListener("input", () => { input.classList.toggle("set", input.value !== UNKNOWN); scheduleAdvise(); });
  return el("div", { class: "field" }, label, input);
}

function buildForm(schema) {
  const root = $("state-fields");
  root.textContent = "";
  const nested = [];
  for (const [name, raw] of Object.entries(schema.properties)) {
    const prop = resolve(schema, raw);
    if (prop.type === "array") continue; // issues and history: the JSON boxes below
    if (prop.properties) { nested.push([name, prop]); continue; }
    root.append(control(name, name, prop));
  }
  for (const [name, prop] of nested) {
    const set = el("fieldset", {}, el("legend", { text: prop.title || words(name) }));
    for (const [sub, raw] of Object.entries(prop.properties)) {
      set.append(control(name + "." + sub, sub, resolve(schema, raw)));
    }
    root.append(set);
  }
}

function readState() {
  const state = {};
  for (const input of $("state-fields").querySelectorAll("[data-kind]")) {
    if (input.value === UNKNOWN) continue;
    let value = input.value;
    const kind = input.dataset.kind;
    if (kind === "bool") value = value === "true";
    else if (kind === "integer") value = parseInt(value, 10);
    else if (kind === "number") value = parseFloat(value);
    if (typeof value === "number" && Number.isNaN(value)) continue;
    const parts = input.name.split(".");
    let target = state;
    for (const part of parts.slice(0, -1)) target = target[part] = target[part] || {};
    target[parts[parts.length - 1]] = value;
  }
  for (const name of ["issues", "history"]) {
    const text = $(name).value.trim();
    if (!text || text === "[]") continue;
    try {
      state[name] = JSON.parse(text);
    } catch (e) {
      throw new Error(name + ": not valid JSON (" + e.message + ")");
    }
  }
  return state;
}

function options() {
  const out = {};
  const top = $("opt-top").value;
  if (top !== "") out.top = parseInt(top, 10);
  const questions = $("opt-questions").value;
  if (questions !== "") out.questions = parseInt(questions, 10);
  const ruleset = $("opt-ruleset").value;
  if (ruleset && ruleset !== "builtin") out.ruleset = ruleset;
  const playbook = $("opt-playbook").value;
  if (playbook) out.playbook = playbook;
  if ($("use-rules").checked && $("rule-text").value.trim()) out.rules = $("rule-text").value;
  return out;
}

// -- advice -------------------------------------------------------------------------------------

function scheduleAdvise() {
  clearTimeout(adviseTimer);
  adviseTimer = setTimeout(runAdvise, 250);
}

async function runAdvise() {
  const seq = ++adviseSeq;
  let body;
  try {
    body = Object.assign({ state: readState() }, options());
  } catch (e) {
    say(e.message);
    return;
  }
  try {
    const advice = await api("POST", "v1/advise", body);
    if (seq !== adviseSeq) return;
    say("");
    renderAdvice(advice);
  } catch (e) {
    if (seq === adviseSeq) say(e.message);
  }
}

function sourceText(s) {
  return (s.title ? s.title + " (" + s.document + ")" : s.document) + " - " + s.section;
}

function basisText(fact) {
  return fact.path + " = " + show(fact.value) + (fact.stated === false ? " (derived)" : " (you said)");
}

function tacticButtons(tactic) {
  return el("div", { class: "rec-actions" },
    el("button", { type: "button", class: "secondary small", "data-explain": tactic, text: "Why?", "aria-label": "Why " + tactic + "?",
      onclick: () => runExplain(tactic) }),
    el("button", { type: "button", class: "secondary small", "data-whatif": tactic, text: "What would change it?",
      "aria-label": "What would change " + tactic + "?", onclick: () => runWhatIf(tactic) }));
}

function renderAdvice(advice) {
  const body = $("advice-body");
  body.textContent = "";
  const recs = advice.recommendations || [];
  if (!recs.length) body.append(el("p", { class: "muted", text: "No recommendation fits this state yet." }));
  const list = el("ol", { class: "recs", "aria-label": "Recommended moves, best first" });
  recs.forEach((rec, i) => {
    const item = el("li", { "data-tactic": rec.tactic },
      el("div", { class: "rec-head" },
        el("span", { class: "rank", text: "#" + (i + 1) }),
        el("span", { class: "tactic", text: rec.tactic }),
        el("span", { class: "score", text: "score " + Number(rec.score).toFixed(3) })),
      el("p", { class: "move", text: rec.move }),
      el("p", { class: "rationale", text: rec.rationale }));
    if (rec.basis && rec.basis.length) {
      item.append(el("p", { class: "meta basis" }, el("b", { text: "Based on: " }), rec.basis.map(basisText).join("; ")));
    }
    for (const caution of rec.cautions || []) {
      item.append(el("p", { class: "meta caution" }, el("b", { text: "Caution: " }), caution));
    }
    item.append(el("p", { class: "meta sources" }, el("b", { text: "Source: " }), (rec.sources || []).map(sourceText).join("; ")));
    item.append(tacticButtons(rec.tactic));
    list.append(item);
  });
  if (recs.length) body.append(list);

  if (advice.questions && advice.questions.length) {
    const qs = el("ol", { class: "plain questions" });
    for (const q of advice.questions) {
      const answers = (q.answers || []).map((a) => show(a.value) + ": " + a.effect).join("; ");
      qs.append(el("li", {}, el("b", { text: q.question }), answers ? el("div", { class: "meta", text: answers }) : null));
    }
    body.append(el("h3", { text: "Ask next" }), qs);
  }
  if (advice.set_aside && advice.set_aside.length) {
    const aside = el("ul", { class: "plain aside" });
    for (const s of advice.set_aside) {
      aside.append(el("li", {}, el("span", { class: "tactic", text: s.tactic }), " - ", s.reason,
        " ", el("button", { type: "button", class: "secondary small", text: "Why not?", "aria-label": "Why not " + s.tactic + "?",
          onclick: () => runExplain(s.tactic) })));
    }
    body.append(el("h3", { text: "Set aside" }), aside);
  }
}

// -- explain and what-if -------------------------------------------------------------------------

function openDetail(title, ...content) {
  $("detail").hidden = false;
  $("detail-title").textContent = title;
  const body = $("detail-body");
  body.textContent = "";
  body.append(...content);
  $("detail").scrollIntoView({ block: "nearest" });
}

function checkList(checks) {
  return el("ul", { class: "checks" }, checks.map((c) =>
    el("li", { class: "d" + Math.min(c.depth || 0, 5) },
      el("span", { class: c.held ? "held" : "failed", text: c.held ? "[x] " : "[ ] " }),
      c.text, c.path ? "   (actual: " + show(c.actual) + ")" : "")));
}

async function runExplain(tactic) {
  let body;
  try {
    body = Object.assign({ state: readState(), tactic }, options());
  } catch (e) { say(e.message); return; }
  delete body.top; delete body.questions;
  try {
    const expl = await api("POST", "v1/explain", body);
    say("");
    const parts = [el("p", { class: "verdict-" + expl.verdict, "data-verdict": expl.verdict }, el("b", { text: expl.summary }))];
    if (expl.score_formula) parts.push(el("p", { class: "meta", text: "score: " + expl.score_formula }));
    for (const rule of expl.rules) {
      parts.push(el("h3", {}, "rule " + rule.rule_id + " ", el("span", { class: "meta", text: "(" + rule.file + ":" + rule.line + ") " + rule.status })));
      parts.push(el("div", { class: "meta", text: "when:" }), checkList(rule.when));
      if (rule.unless && rule.unless.length) {
        parts.push(el("div", { class: "meta", text: "unless (" + rule.unless_reason + "):" }), checkList(rule.unless));
      }
    }
    openDetail("Why? " + tactic, ...parts);
  } catch (e) { say(e.message); }
}

async function runWhatIf(tactic) {
  let body;
  try {
    body = Object.assign({ state: readState(), tactic, max_changes: 2 }, options());
  } catch (e) { say(e.message); return; }
  delete body.top; delete body.questions;
  try {
    const answer = await api("POST", "v1/what-if", body);
    say("");
    const parts = [el("p", { "data-status": answer.status }, el("b", { text: answer.summary }))];
    if (answer.solutions && answer.solutions.length) {
      const table = el("table", { class: "solutions" },
        el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "change" }), el("th", { scope: "col", text: "rank" }), el("th", { scope: "col", text: "also" }))));
      const tbody = el("tbody");
      for (const sol of answer.solutions) {
        const changes = sol.changes.map((c) => c.path + ": " + show(c.from) + " -> " + show(c.to)).join("; ");
        const rank = (sol.before.rank || "-") + " -> " + (sol.after.rank || "-");
        const also = [...(sol.entered || []).filter((t) => t !== tactic).map((t) => "+ " + t), ...(sol.left || []).map((t) => "- " + t)].join(", ");
        tbody.append(el("tr", {}, el("td", { text: changes }), el("td", { text: rank }), el("td", { text: also || "-" })));
      }
      table.append(tbody);
      parts.push(table);
    }
    for (const note of answer.notes || []) parts.push(el("p", { class: "meta", text: "note: " + note }));
    openDetail("What would change it? " + tactic, ...parts);
  } catch (e) { say(e.message); }
}

// -- the rule editor -----------------------------------------------------------------------------

function drawGutter(marked) {
  const lines = $("rule-text").value.split("\n").length;
  const gutter = $("gutter");
  gutter.textContent = "";
  for (let n = 1; n <= lines; n++) {
    gutter.append(marked && marked.has(n) ? el("span", { class: "mark", text: String(n) }) : String(n), "\n");
  }
  gutter.scrollTop = $("rule-text").scrollTop;
}

function goToLine(line) {
  const area = $("rule-text");
  const lines = area.value.split("\n");
  let start = 0;
  for (let i = 0; i < line - 1 && i < lines.length; i++) start += lines[i].length + 1;
  area.focus();
  area.setSelectionRange(start, start + (lines[line - 1] || "").length);
  const lineHeight = parseFloat(getComputedStyle(area).lineHeight) || 18;
  area.scrollTop = Math.max(0, (line - 3) * lineHeight);
}

async function runLint() {
  const text = $("rule-text").value;
  const seq = ++lintSeq;
  if (!text.trim()) { $("findings").textContent = ""; drawGutter(); return; }
  try {
    const report = await api("POST", "v1/lint", { rules: text });
    if (seq !== lintSeq) return;
    const marked = new Set(report.findings.filter((f) => f.line && f.severity !== "info").map((f) => f.line));
    drawGutter(marked);
    const out = $("findings");
    out.textContent = "";
    if (!report.findings.length) {
      out.append(el("p", { class: "ok", "data-ok": "true", text: "No findings: these rules load and look right." }));
    } else {
      const list = el("ul");
      for (const f of report.findings) {
        list.append(el("li", { "data-line": f.line || "", "data-code": f.code },
          f.line ? el("button", { type: "button", class: "line", text: "line " + f.line, onclick: () => goToLine(f.line) }) : "(no line)",
          " ", el("span", { class: "sev-" + f.severity, text: f.severity }), " [" + f.code + "] ",
          f.rule_id ? "rule '" + f.rule_id + "': " : "", f.message));
      }
      out.append(list);
    }
    if ($("use-rules").checked) scheduleAdvise();
  } catch (e) {
    if (seq === lintSeq) say(e.message);
  }
}

const EXAMPLE_RULES = `ruleset: our-house-rules
rules:
  - id: house.stay_firm_on_price
    tactic: pressure.strong_posture
    move: Hold the list price and point to the other buyers waiting.
    rationale: We have {alternatives} other buyers lined up.
    when:
      phase: bargaining
      alternatives: {gte: 2}
    weight: 0.95
    sources:
      - document: 001_b456b039e9603b86.txt
        section: (1) Strong pressure
`;

// -- start ----------------------------------------------------------------------------------------

async function start() {
  $("rule-text").value = EXAMPLE_RULES;
  drawGutter();
  $("rule-text").addEventListener("input", () => { drawGutter(); clearTimeout(lintTimer); lintTimer = setTimeout(runLint, 400); });
  $("rule-text").addEventListener("scroll", () => { $("gutter").scrollTop = $("rule-text").scrollTop; });
  $("lint-button").addEventListener("click", runLint);
  $("use-rules").addEventListener("change", scheduleAdvise);
  $("state-form").addEventListener("submit", (e) => { e.preventDefault(); runAdvise(); });
  for (const id of ["issues", "history", "opt-top", "opt-questions", "opt-ruleset", "opt-playbook"]) {
    $(id).addEventListener("input", scheduleAdvise);
  }
  $("reset-button").addEventListener("click", () => {
    for (const input of $("state-fields").querySelectorAll("[data-kind]")) { input.value = UNKNOWN; input.classList.remove("set"); }
    $("issues").value = "[]"; $("history").value = "[]";
    runAdvise();
  });
  $("any-explain").addEventListener("click", () => runExplain($("any-tactic").value));
  $("any-whatif").addEventListener("click", () => runWhatIf($("any-tactic").value));
  $("key-form").addEventListener("submit", (e) => { e.preventDefault(); loadLists(); runAdvise(); });
  $("api-key").addEventListener("change", () => { loadLists(); runAdvise(); });
  try {
    stateSchema = await api("GET", "v1/schemas/state");
    buildForm(stateSchema);
  } catch (e) {
    say("Cannot load the state schema: " + e.message);
    return;
  }
  await loadLists();
  await runAdvise();
  runLint();
  document.body.dataset.ready = "true";
}

async function loadLists() {
  try {
    const tactics = await api("GET", "v1/tactics");
    const select = $("any-tactic");
    select.textContent = "";
    for (const t of tactics) select.append(el("option", { value: t.id, text: t.id }));
    const names = await api("GET", "v1/rulesets");
    const rs = $("opt-ruleset");
    rs.textContent = "";
    for (const n of names.rulesets) rs.append(el("option", { value: n, text: n }));
    const pb = $("opt-playbook");
    pb.textContent = "";
    pb.append(el("option", { value: "", text: "(none)" }));
    for (const n of names.playbooks) pb.append(el("option", { value: n, text: words(n) }));
  } catch (e) {
    say(e.message);
  }
}

document.addEventListener("DOMContentLoaded", start);
