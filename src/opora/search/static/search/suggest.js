// Portal new-request page: remember which suggested articles were opened, reveal their
// "This solved my problem" button, and when the page is left without sending the request
// after reading one, tell the server with a beacon (counted as a deflection "left after
// reading" — see opora/search/views.py for what exactly is counted).
(function () {
  "use strict";

  var panel = document.getElementById("kb-suggestions");
  if (!panel) {
    return;
  }
  var opened = [];
  var sent = false;

  function reveal() {
    opened.forEach(function (pk) {
      var form = panel.querySelector('[data-solved-for="' + pk + '"]');
      if (form) {
        form.hidden = false;
      }
    });
  }

  panel.addEventListener("click", function (event) {
    var link = event.target instanceof Element ? event.target.closest("a[data-suggestion]") : null;
    if (link) {
      var pk = link.getAttribute("data-suggestion");
      if (opened.indexOf(pk) === -1) {
        opened.push(pk);
      }
      reveal();
    }
  });
  document.body.addEventListener("htmx:afterSwap", reveal);

  // Sending the request, or pressing "This solved my problem", is not leaving unsent.
  document.addEventListener("submit", function () {
    sent = true;
  });

  window.addEventListener("pagehide", function () {
    if (sent || opened.length === 0 || !navigator.sendBeacon) {
      return;
    }
    var token = document.querySelector("input[name=csrfmiddlewaretoken]");
    var data = new FormData();
    if (token) {
      data.append("csrfmiddlewaretoken", token.value);
    }
    opened.forEach(function (pk) {
      data.append("article", pk);
    });
    navigator.sendBeacon(panel.getAttribute("data-left-url"), data);
    opened = [];
  });
})();
