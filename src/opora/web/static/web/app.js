// Opora's small client-side helpers. No inline scripts anywhere: the Content-Security-Policy
// allows scripts from our own origin only.
(function () {
  "use strict";

  // <select data-autosubmit> submits its form on change (the language switcher).
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el instanceof HTMLSelectElement && el.hasAttribute("data-autosubmit") && el.form) {
      el.form.submit();
    }
  });
})();
