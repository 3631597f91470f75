// policybot console: progressive enhancement only. Every form works without this script; with it, the
// console appends replies in place (like a chat) instead of reloading the page.
"use strict";
(function () {
  function csrfOf(form) {
    var field = form.querySelector("input[name=csrf]");
    return field ? field.value : "";
  }

  function post(form, extra) {
    var data = new FormData(form);
    if (extra) { data.append(extra.name, extra.value); }
    return fetch(form.action, {
      method: "POST", body: new URLSearchParams(data), credentials: "same-origin",
      headers: { "X-Policybot-Fragment": "1", "X-CSRF-Token": csrfOf(form) }
    });
  }

  function append(html) {
    var list = document.getElementById("transcript");
    var holder = document.createElement("ol");
    holder.innerHTML = html;
    var last = null;
    while (holder.firstElementChild) { last = holder.firstElementChild; list.appendChild(last); }
    if (last) { last.scrollIntoView({ block: "start", behavior: "smooth" }); }
  }

  var ask = document.getElementById("ask");
  if (ask) {
    var box = ask.querySelector("textarea");
    box.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        ask.requestSubmit();
      }
    });
    ask.addEventListener("submit", function (event) {
      if (!box.value.trim()) { return; }
      event.preventDefault();
      var button = ask.querySelector("button[type=submit]");
      button.disabled = true;
      ask.setAttribute("aria-busy", "true");
      post(ask).then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.text();
      }).then(function (html) {
        append(html);
        box.value = "";
      }).catch(function () { ask.submit(); }).finally(function () {
        button.disabled = false;
        ask.removeAttribute("aria-busy");
        box.focus();
      });
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute("data-fragment")) { return; }
    event.preventDefault();
    if (form.method.toLowerCase() === "get") {
      fetch(form.action, { headers: { "X-Policybot-Fragment": "1" }, credentials: "same-origin" })
        .then(function (response) { return response.text(); }).then(append);
      return;
    }
    var button = event.submitter;
    post(form, button ? { name: button.name, value: button.value } : null)
      .then(function (response) { return response.text(); }).then(function (text) {
        form.querySelectorAll("button[aria-pressed]").forEach(function (b) {
          b.setAttribute("aria-pressed", b === button ? "true" : "false");
        });
        var status = form.querySelector("[role=status]");
        if (status) { status.textContent = text; }
      });
  });
})();
