// Queue pages of the agent workspace: keyboard moves through the rows, "select all on this page",
// and the filter checklists. Everything is delegated from the document, so rows swapped in by
// htmx work without re-binding. No inline scripts: the Content-Security-Policy forbids them.
(function () {
  "use strict";

  var current = -1; // index of the row the keyboard is on

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("#queue-table tr[data-ticket-row]"));
  }

  function typing(el) {
    if (!el) return false;
    var tag = el.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
  }

  function focusRow(index) {
    var list = rows();
    if (!list.length) return;
    index = Math.max(0, Math.min(list.length - 1, index));
    list.forEach(function (row, i) { row.classList.toggle("queue-row-current", i === index); });
    current = index;
    var link = list[index].querySelector("a.queue-ticket-link");
    if (link) {
      link.focus();
      link.scrollIntoView({ block: "nearest" });
    }
  }

  function rowIndexOf(el) {
    var row = el && el.closest ? el.closest("tr[data-ticket-row]") : null;
    return row ? rows().indexOf(row) : -1;
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Escape") {
      closeMenus(null);
      return;
    }
    if (typing(event.target)) return;
    if (!document.getElementById("queue-table")) return;
    if (event.key === "j" || event.key === "k") {
      event.preventDefault();
      var from = rowIndexOf(document.activeElement);
      if (from < 0) from = current;
      if (from < 0) {
        focusRow(0);
      } else {
        focusRow(from + (event.key === "j" ? 1 : -1));
      }
    } else if (event.key === "/") {
      var search = document.getElementById("queue-q");
      if (search) {
        event.preventDefault();
        search.focus();
        search.select();
      }
    } else if (event.key === "Enter") {
      // Enter on a focused link follows it by itself; on a row (e.g. after a click on its
      // background) open that row's ticket.
      var index = rowIndexOf(document.activeElement);
      if (index < 0 && document.activeElement === document.body && current >= 0) index = current;
      var list = rows();
      if (index >= 0 && list[index] && document.activeElement.tagName !== "A" &&
          document.activeElement.tagName !== "BUTTON") {
        var href = list[index].getAttribute("data-href");
        if (href) {
          event.preventDefault();
          window.location.assign(href);
        }
      }
    }
  });

  // --- selection -------------------------------------------------------------------------------

  function boxes() {
    return Array.prototype.slice.call(
      document.querySelectorAll('#queue-table tbody input[type="checkbox"][name="ticket"]'));
  }

  function updateSelection() {
    var all = boxes();
    var checked = all.filter(function (box) { return box.checked; }).length;
    var master = document.querySelector("[data-select-all]");
    if (master) {
      master.checked = all.length > 0 && checked === all.length;
      master.indeterminate = checked > 0 && checked < all.length;
    }
    document.querySelectorAll("[data-selected-count]").forEach(function (el) {
      el.textContent = String(checked);
    });
  }

  document.addEventListener("change", function (event) {
    var el = event.target;
    if (!(el instanceof HTMLInputElement)) return;
    if (el.hasAttribute("data-select-all")) {
      boxes().forEach(function (box) { box.checked = el.checked; });
      updateSelection();
    } else if (el.name === "ticket") {
      updateSelection();
    } else if (el.type === "checkbox" && el.closest("[data-filter-group]")) {
      updateSummary(el.closest("[data-filter-group]"));
    }
  });

  // --- filter checklists (<details> dropdowns) -------------------------------------------------

  function updateSummary(group) {
    var target = group.querySelector("[data-filter-summary]");
    if (!target) return;
    var labels = Array.prototype.slice.call(group.querySelectorAll("input:checked")).map(
      function (box) {
        var label = box.closest("label");
        return label ? label.textContent.trim() : box.value;
      });
    target.textContent = labels.length ? labels.join(", ") : target.getAttribute("data-empty");
  }

  function closeMenus(except) {
    document.querySelectorAll("details.queue-filter[open], details.queue-popover[open]").forEach(
      function (el) { if (el !== except) el.removeAttribute("open"); });
  }

  document.addEventListener("click", function (event) {
    var inside = event.target.closest ? event.target.closest("details.queue-filter, details.queue-popover") : null;
    closeMenus(inside);
    // A click on a row's background puts the keyboard there.
    var index = rowIndexOf(event.target);
    if (index >= 0) {
      rows().forEach(function (row, i) { row.classList.toggle("queue-row-current", i === index); });
      current = index;
    }
  });

  // Empty text and date fields stay out of the address the filter form pushes.
  document.addEventListener("htmx:configRequest", function (event) {
    var elt = event.detail && event.detail.elt;
    if (!elt || elt.id !== "queue-filters") return;
    var params = event.detail.parameters;
    ["q", "created_after", "created_before"].forEach(function (name) {
      if (params[name] === "") delete params[name];
    });
  });

  // After htmx swaps the results: start again from the top, recount the selection.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.target && event.target.id === "queue-results") {
      current = -1;
      updateSelection();
    }
  });

  document.addEventListener("DOMContentLoaded", updateSelection);
})();
