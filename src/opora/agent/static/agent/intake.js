// Phone intake: move through the people found with the arrow keys, and go on to the ticket's
// title as soon as the caller is chosen. (Files dropped onto the form are handled by ticket.js.)
(function () {
  "use strict";

  function results() {
    return Array.prototype.slice.call(document.querySelectorAll("#people-results [data-person]"));
  }

  document.addEventListener("keydown", function (event) {
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") {
      return;
    }
    var links = results();
    if (!links.length) {
      return;
    }
    var search = document.getElementById("people-q");
    var index = links.indexOf(document.activeElement);
    if (event.target === search && event.key === "ArrowDown") {
      event.preventDefault();
      links[0].focus();
    } else if (index >= 0) {
      event.preventDefault();
      var next = index + (event.key === "ArrowDown" ? 1 : -1);
      if (next < 0) {
        search.focus();
      } else if (next < links.length) {
        links[next].focus();
      }
    }
  });

  // A caller chosen from the list (afterSwap) or just registered (an out-of-band swap).
  function callerChosen(event) {
    var target = event.detail && event.detail.target;
    if (target && target.id === "caller" && target.querySelector("input[name=requester]")) {
      var title = document.getElementById("intake-title");
      if (title) {
        title.focus();
      }
    }
  }
  document.addEventListener("htmx:afterSwap", callerChosen);
  document.addEventListener("htmx:oobAfterSwap", callerChosen);
})();
