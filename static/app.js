// Keyport's few behaviours that need script. Pages work without it: forms
// post normally, and confirmation steps are separate pages.
(function () {
  "use strict";
  // Copy buttons: <button data-copy-target="id">.
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest("[data-copy-target]");
    if (!btn) return;
    var el = document.getElementById(btn.getAttribute("data-copy-target"));
    if (!el || !navigator.clipboard) return;
    navigator.clipboard.writeText(el.textContent.trim()).then(function () {
      var old = btn.textContent;
      btn.textContent = "Copied";
      setTimeout(function () { btn.textContent = old; }, 1500);
    });
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
