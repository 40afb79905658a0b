// The sandbox page: polls /sandbox/api/state and draws the phone, the channel and App Home.
"use strict";

const EMOJI = {
  speech_balloon: "💬", clock3: "🕒", round_pushpin: "📍", large_green_circle: "🟢",
  red_circle: "🔴", white_circle: "⚪", large_blue_circle: "🔵", information_source: "ℹ️", warning: "⚠️",
  paperclip: "📎", outbox_tray: "📤", incoming_envelope: "📨", no_entry_sign: "🚫", x: "❌",
  white_check_mark: "✅", hourglass_flowing_sand: "⏳", envelope: "✉️", bust_in_silhouette: "👤",
};
const $ = (selector) => document.querySelector(selector);
let state = null;
let lastJson = "";

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  for (const child of children) node.append(child);
  return node;
}

function unescape(text) {
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

function userName(id) {
  const user = state && state.users[id];
  return user ? user.name : id;
}

// Slack mrkdwn as DOM nodes: never innerHTML, so customers' text stays text.
function mrkdwn(text) {
  const out = el("span");
  const tokens = /(<[^<>]+>|\*[^*\n]+\*|_[^_\n]+_|:[a-z0-9_+'-]+:)/g;
  for (const part of text.split(tokens)) {
    if (!part) continue;
    if (part.startsWith("<") && part.endsWith(">")) {
      const inner = part.slice(1, -1);
      const [target, label] = inner.split("|");
      if (target.startsWith("@")) out.append(el("b", { textContent: "@" + userName(target.slice(1)) }));
      else if (target.startsWith("#")) out.append("#" + (label || target.slice(1)));
      else if (target.startsWith("!")) out.append(unescape(label || "@" + target.slice(1)));
      else out.append(el("a", { href: inSandbox(target), textContent: unescape(label || target), rel: "noreferrer" }));
    } else if (/^\*[^*]+\*$/.test(part)) {
      out.append(el("b", { textContent: unescape(part.slice(1, -1)) }));
    } else if (/^_[^_]+_$/.test(part)) {
      out.append(el("i", { textContent: unescape(part.slice(1, -1)) }));
    } else if (/^:[a-z0-9_+'-]+:$/.test(part)) {
      out.append(EMOJI[part.slice(1, -1)] || part);
    } else {
      out.append(unescape(part));
    }
  }
  return out;
}

// A permalink to a message in the emulated workspace points at its thread on this page.
function inSandbox(url) {
  const found = /\/archives\/[A-Z0-9]+\/p(\d{10})(\d{6})/.exec(url);
  return found ? "#thread-" + found[1] + "." + found[2] : url;
}

function textOf(obj) {
  if (!obj) return el("span");
  return obj.type === "plain_text" ? el("span", { textContent: obj.text }) : mrkdwn(obj.text || "");
}

function renderBlocks(blocks, message) {
  const box = el("div", { className: "blocks" });
  blocks.forEach((block, index) => {
    if (block.type === "section" || block.type === "header") {
      box.append(el("div", { className: "section" }, textOf(block.text)));
    } else if (block.type === "context") {
      const line = el("div", { className: "context" });
      (block.elements || []).forEach((item, i) => {
        if (i) line.append(" · ");
        line.append(textOf(item));
      });
      box.append(line);
    } else if (block.type === "actions" && message) {
      const row = el("div", { className: "actions" });
      for (const item of block.elements || []) {
        if (item.type !== "button") continue;
        const button = el("button", { type: "button", textContent: item.text.text });
        if (item.style) button.className = item.style;
        button.dataset.actionId = item.action_id;
        button.addEventListener("click", () => clickButton(message.ts, item, index));
        row.append(button);
      }
      box.append(row);
    } else if (block.type === "divider") {
      box.append(el("hr"));
    }
  });
  return box;
}

function renderMessage(message, className) {
  const node = el("div", { className: "msg " + className });
  node.dataset.ts = message.ts;
  node.append(el("span", { className: "author", textContent: message.bot ? "smsbridge" : userName(message.user) }));
  if (message.blocks.length) node.append(renderBlocks(message.blocks, message));
  else node.append(el("div", { className: "text" }, mrkdwn(message.text)));
  if (message.edited && !message.bot) node.append(el("span", { className: "edited", textContent: "(edited)" }));
  if (message.reactions.length) {
    const reactions = el("div", { className: "reactions" });
    for (const name of message.reactions) {
      reactions.append(el("span", { title: ":" + name + ":", textContent: EMOJI[name] || ":" + name + ":" }));
    }
    node.append(reactions);
  }
  return node;
}

function ephemeralsFor(threadTs) {
  const me = state.roles[$("#role").value];
  return state.ephemerals.filter((e) => e.user === me && e.thread_ts === threadTs);
}

function renderThread(message) {
  let thread = document.getElementById("thread-" + message.ts);
  if (!thread) {
    thread = el("article", { className: "thread", id: "thread-" + message.ts });
    const body = el("div", { className: "body" });
    const input = el("input", { className: "reply-text", placeholder: "Reply in thread…" });
    const form = el("form", { className: "reply-form" }, input, el("button", { className: "reply-send", type: "submit", textContent: "Reply" }));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!input.value.trim()) return;
      post("reply", { role: $("#role").value, thread_ts: message.ts, text: input.value });
      input.value = "";
    });
    thread.append(body, form);
  }
  const body = thread.querySelector(".body");
  const replies = el("div", { className: "replies" });
  for (const reply of message.replies) replies.append(renderMessage(reply, "reply"));
  for (const note of ephemeralsFor(message.ts)) {
    const node = el("div", { className: "msg ephemeral" }, el("div", { className: "only", textContent: "Only visible to you" }));
    node.append(note.blocks.length ? renderBlocks(note.blocks, null) : mrkdwn(note.text));
    replies.append(node);
  }
  body.replaceChildren(renderMessage(message, "parent"), replies);
  return thread;
}

function renderChannel() {
  const channel = $("#channel");
  $("#channel-name").textContent = state.channel.name;
  if (!state.messages.length) {
    channel.replaceChildren(el("p", { className: "empty", textContent: "No conversations yet: text the business from the phone." }));
    return;
  }
  const threads = state.messages.map(renderThread);
  const loose = ephemeralsFor("").map((note) => el("div", { className: "msg ephemeral" },
    el("div", { className: "only", textContent: "Only visible to you" }),
    note.blocks.length ? renderBlocks(note.blocks, null) : mrkdwn(note.text)));
  const notes = document.getElementById("channel-notes") || el("div", { id: "channel-notes" });
  notes.replaceChildren(...loose);
  threads.push(notes);
  const same = threads.length === channel.children.length && threads.every((t, i) => channel.children[i] === t);
  if (!same) channel.replaceChildren(...threads);  // moving a focused input would blur it
}

function renderPhone() {
  $("#business").textContent = state.business;
  const phone = $("#phone-number").value.trim();
  const conversation = state.phones[phone] || { messages: [] };
  const list = $("#phone-messages");
  list.replaceChildren(...conversation.messages.map((sms) =>
    el("li", { className: "sms " + sms.direction }, sms.body,
      el("small", { textContent: sms.direction === "out" ? "sent" : "from " + state.business + " · " + sms.status }))));
  list.scrollTop = list.scrollHeight;
}

function renderHome() {
  const me = state.roles[$("#role").value];
  const view = state.views[me];
  const box = $("#home-view");
  if (!view) {
    box.replaceChildren(el("p", { className: "empty", textContent: homeNote }));
    return;
  }
  box.replaceChildren(renderBlocks(view, null));
}

let homeNote = "Open this tab to ask the app for its Home.";

function renderDeliveries() {
  $("#delivery-list").replaceChildren(...state.deliveries.slice().reverse().map((d) =>
    el("li", { className: d.status >= 200 && d.status < 300 ? "" : "failed", textContent: d.from + ": " + d.what + " → " + (d.status || "unreachable") })));
}

function render() {
  renderDeliveries();
  renderPhone();
  renderChannel();
  renderHome();
}

async function refresh() {
  try {
    const response = await fetch("/sandbox/api/state", { cache: "no-store" });
    const json = await response.text();
    if (json !== lastJson) {
      lastJson = json;
      state = JSON.parse(json);
      render();
    }
    $("#status").textContent = "";
  } catch (error) {
    $("#status").textContent = "The sandbox is not answering (" + error.message + ").";
  }
}

async function post(what, payload) {
  const response = await fetch("/sandbox/api/" + what, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(payload),
  });
  const answer = await response.json();
  if (!response.ok) $("#status").textContent = answer.error || "refused";
  lastJson = "";
  await refresh();
  return answer;
}

function clickButton(ts, button, block) {
  if (button.confirm && !window.confirm(button.confirm.title.text + "\n" + button.confirm.text.text)) return;
  post("click", { role: $("#role").value, ts, action_id: button.action_id, block });
}

document.addEventListener("DOMContentLoaded", () => {
  $("#phone-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("#phone-text");
    if (!input.value.trim()) return;
    post("text", { phone: $("#phone-number").value, name: $("#phone-name").value, body: input.value })
      .then((answer) => {
        if (answer.phone && answer.phone !== $("#phone-number").value) {
          $("#phone-number").value = answer.phone;  // as E.164, the way Twilio writes it
          renderPhone();
        }
      });
    input.value = "";
  });
  $("#command-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = $("#command-text");
    const text = input.value.trim();
    if (!text) return;
    const answer = await post("command", { role: $("#role").value, text: text.startsWith("/") ? text : "/" + text });
    if (answer.events_status === 404) $("#status").textContent = "This build of smsbridge has no " + text.split(" ")[0] + " command.";
    else input.value = "";
  });
  $("#reset").addEventListener("click", () => {
    if (window.confirm("Start over? Every message, contact and consent goes.")) post("reset", {});
  });
  $("#role").addEventListener("change", () => { lastJson = ""; refresh(); });
  $("#phone-number").addEventListener("input", () => state && renderPhone());
  for (const tab of document.querySelectorAll(".tab")) {
    tab.addEventListener("click", async () => {
      for (const other of document.querySelectorAll(".tab")) other.classList.toggle("active", other === tab);
      $("#channel").hidden = tab.dataset.tab !== "channel";
      $("#home").hidden = tab.dataset.tab !== "home";
      if (tab.dataset.tab === "home") {
        const answer = await post("home", { role: $("#role").value });
        if (answer.events_status === 404) homeNote = "This build of smsbridge has no App Home yet.";
        renderHome();
      }
    });
  }
  refresh();
  setInterval(refresh, 700);
});
