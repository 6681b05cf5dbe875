// Keyport's few behaviours that need script. Pages work without it: forms
// post normally, and confirmation steps are separate pages.
(function () {
  "use strict";

  // copyStatus is where a copy button reports: the live region its
  // data-copy-status names, or one made beside the button.
  function copyStatus(btn) {
    var el = document.getElementById(btn.getAttribute("data-copy-status") || "");
    if (el) return el;
    el = document.createElement("span");
    el.className = "kp-copy-hint";
    el.setAttribute("role", "status");
    el.setAttribute("aria-live", "polite");
    btn.insertAdjacentElement("afterend", el);
    return el;
  }

  function say(status, text) {
    // A change of text is what screen readers announce; clear first so the
    // same message twice is announced twice.
    status.textContent = "";
    setTimeout(function () { status.textContent = text; }, 50);
  }

  // selectText selects el's text so the person can copy it themselves.
  function selectText(el) {
    try {
      if (/^(INPUT|TEXTAREA)$/.test(el.tagName)) {
        el.focus();
        el.select();
        return true;
      }
      var range = document.createRange();
      range.selectNodeContents(el);
      var sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      return true;
    } catch (e) {
      return false;
    }
  }

  // Without the clipboard API (plain HTTP) or with its permission denied,
  // Copy selects the text and says how to copy it: never a silent failure.
  function fallback(btn, el) {
    var mac = /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent);
    var how = mac ? "Press ⌘C to copy." : "Press Ctrl+C to copy.";
    say(copyStatus(btn), selectText(el) ? "Selected. " + how : "Select the text and copy it yourself.");
    btn.setAttribute("data-copy-result", "selected");
  }

  // Copy buttons: <button data-copy-target="id" [data-copy-status="id"]>.
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest("[data-copy-target]");
    if (!btn) return;
    var el = document.getElementById(btn.getAttribute("data-copy-target"));
    if (!el) return;
    var text = (/^(INPUT|TEXTAREA)$/.test(el.tagName) ? el.value : el.textContent).trim();
    var p;
    try {
      p = navigator.clipboard && navigator.clipboard.writeText ? navigator.clipboard.writeText(text) : null;
    } catch (e) {
      p = null;
    }
    if (!p) {
      fallback(btn, el);
      return;
    }
    p.then(function () {
      var old = btn.getAttribute("data-label") || btn.textContent;
      btn.setAttribute("data-label", old);
      btn.textContent = "Copied";
      btn.setAttribute("data-copy-result", "copied");
      say(copyStatus(btn), "Copied to the clipboard.");
      setTimeout(function () { btn.textContent = old; }, 1500);
    }, function () {
      fallback(btn, el);
    });
  });

  // The creation page's way out waits for "I have saved the secret": the
  // checkbox is required either way; with script the button also looks
  // unavailable until it is ticked.
  function gate(form) {
    var box = form.querySelector("input[type=checkbox][required]");
    var btn = form.querySelector("button[type=submit]");
    if (!box || !btn) return;
    btn.disabled = !box.checked;
    box.addEventListener("change", function () { btn.disabled = !box.checked; });
  }
  function gates() {
    document.querySelectorAll("form[data-saved-gate]").forEach(gate);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", gates);
  } else {
    gates();
  }

  // After a submit, the page that answers starts keyboard and screen-reader
  // users at its result (a flash message, a verification's answer: each
  // marked data-focus-result and tabindex="-1", or the focusable element a
  // redirect's fragment names), unless a field asks for focus itself
  // (autofocus: the field to fill, or the one in error). An htmx swap that
  // brings a result (data-focus-result="swap") moves focus to it when the
  // swap took the focus away.
  function focusResult() {
    if (document.querySelector("[autofocus]")) return;
    var el = location.hash.length > 1 ? document.getElementById(location.hash.slice(1)) : null;
    if (!el || !el.hasAttribute("tabindex")) el = document.querySelector("[data-focus-result]:not([data-focus-result=swap])");
    if (el) el.focus();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", focusResult);
  } else {
    focusResult();
  }
  document.addEventListener("htmx:afterSettle", function () {
    var el = document.querySelector("[data-focus-result=swap]");
    if (el && (!document.activeElement || document.activeElement === document.body)) el.focus();
  });

  // Busy state for forms that call CXone: disable the button so a double
  // click cannot submit twice, and let Pico draw its spinner.
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!form.hasAttribute("data-busy")) return;
    var btn = form.querySelector("button[type=submit], button:not([type])");
    if (btn) {
      setTimeout(function () { btn.disabled = true; }, 0);
      btn.setAttribute("aria-busy", "true");
    }
  });
})();
