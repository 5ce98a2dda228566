// The agent's ticket page: keyboard shortcuts, files dropped onto the editors, canned responses.
// Everything is delegated from `document`, because htmx replaces #ticket-main after each action.
// The server stays the judge of every file (check_upload); the checks here only warn early.
(function () {
  "use strict";

  // The texts come translated from the page: data-msg-* attributes of the file input.
  function t(input, key, values) {
    var text = input.getAttribute("data-msg-" + key) || key;
    Object.keys(values || {}).forEach(function (name) {
      text = text.replace("{" + name + "}", values[name]);
    });
    return text;
  }

  function humanSize(bytes) {
    var units = ["B", "KB", "MB", "GB"];
    var i = 0;
    while (bytes >= 1024 && i < units.length - 1) {
      bytes /= 1024;
      i += 1;
    }
    return (i === 0 ? bytes : bytes.toFixed(1)) + " " + units[i];
  }

  function main() {
    return document.getElementById("ticket-main");
  }

  // --- keyboard shortcuts ------------------------------------------------------------------------

  function typing(el) {
    if (!el || el === document.body) {
      return false;
    }
    var tag = el.tagName;
    return el.isContentEditable || tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT";
  }

  function openEditor(kind) {
    var tab = document.getElementById("tab-" + kind);
    if (tab && !tab.classList.contains("active")) {
      tab.click();
    }
    var editor = document.getElementById(kind + "-body");
    if (editor) {
      // The tab pane becomes visible on the next frame.
      window.requestAnimationFrame(function () {
        editor.focus();
      });
    }
  }

  function toggleHelp() {
    var help = document.getElementById("shortcuts-help");
    if (help && typeof help.togglePopover === "function") {
      help.togglePopover();
    }
  }

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && typing(event.target) && event.target.matches("[data-editor]")) {
      event.target.blur();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target) || !main()) {
      return;
    }
    var key = event.key;
    if (key === "r" || key === "n") {
      event.preventDefault();
      openEditor(key === "r" ? "reply" : "note");
    } else if (key === "J" || key === "]") {
      var url = main().getAttribute("data-next-url");
      if (url) {
        event.preventDefault();
        window.location.assign(url);
      }
    } else if (key === "?") {
      event.preventDefault();
      toggleHelp();
    }
  });

  // --- attachments: choose or drop, listed with early warnings -----------------------------------

  function problem(file, input) {
    var limit = parseInt(input.getAttribute("data-max-bytes") || "0", 10);
    var allowed = (input.getAttribute("data-allowed") || "").split(" ");
    var dot = file.name.lastIndexOf(".");
    var ext = dot >= 0 ? file.name.slice(dot + 1).toLowerCase() : "";
    if (file.size === 0) {
      return t(input, "empty");
    }
    if (limit && file.size > limit) {
      return t(input, "too-large", { limit: humanSize(limit) });
    }
    if (allowed.length && allowed.indexOf(ext) < 0) {
      return t(input, "not-accepted");
    }
    return "";
  }

  function listFiles(input) {
    var form = input.form;
    var list = form && form.querySelector("[data-file-list]");
    if (!list) {
      return;
    }
    list.textContent = "";
    Array.prototype.forEach.call(input.files, function (file, index) {
      var item = document.createElement("li");
      var name = document.createElement("span");
      var warning = problem(file, input);
      name.textContent = file.name + " (" + humanSize(file.size) + ")";
      item.appendChild(name);
      if (warning) {
        item.className = "text-danger";
        var why = document.createElement("span");
        why.textContent = " — " + warning;
        item.appendChild(why);
      }
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "btn btn-link btn-sm p-0 ms-2";
      remove.textContent = t(input, "remove");
      remove.setAttribute("aria-label", t(input, "remove-file", { name: file.name }));
      remove.setAttribute("data-remove-file", String(index));
      item.appendChild(remove);
      list.appendChild(item);
    });
  }

  function setFiles(input, files) {
    var transfer = new DataTransfer();
    files.forEach(function (file) {
      transfer.items.add(file);
    });
    input.files = transfer.files;
    listFiles(input);
  }

  function fileInput(form) {
    return form ? form.querySelector("input[type=file][name=attachments]") : null;
  }

  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el instanceof HTMLInputElement && el.type === "file" && el.closest("[data-dropzone]")) {
      listFiles(el);
    }
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-remove-file]") : null;
    if (button) {
      var input = fileInput(button.closest("form"));
      if (input) {
        var skip = parseInt(button.getAttribute("data-remove-file"), 10);
        setFiles(input, Array.prototype.filter.call(input.files, function (_file, i) {
          return i !== skip;
        }));
        input.focus();
      }
      return;
    }
    var insert = event.target.closest ? event.target.closest("[data-canned-insert]") : null;
    if (insert) {
      insertCanned(insert);
    }
  });

  function dropzoneOf(event) {
    return event.target.closest ? event.target.closest("[data-dropzone]") : null;
  }

  function carriesFiles(event) {
    var types = event.dataTransfer && event.dataTransfer.types;
    return types && Array.prototype.indexOf.call(types, "Files") >= 0;
  }

  document.addEventListener("dragover", function (event) {
    var zone = dropzoneOf(event);
    if (zone && carriesFiles(event)) {
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
      zone.classList.add("dropzone-active");
    }
  });

  document.addEventListener("dragleave", function (event) {
    var zone = dropzoneOf(event);
    if (zone && !zone.contains(event.relatedTarget)) {
      zone.classList.remove("dropzone-active");
    }
  });

  document.addEventListener("drop", function (event) {
    var zone = dropzoneOf(event);
    if (!zone || !carriesFiles(event)) {
      return;
    }
    event.preventDefault();
    zone.classList.remove("dropzone-active");
    var input = fileInput(zone);
    if (input) {
      setFiles(input, Array.prototype.slice.call(input.files).concat(
        Array.prototype.slice.call(event.dataTransfer.files)));
    }
  });

  // --- canned responses --------------------------------------------------------------------------

  function insertCanned(button) {
    var box = button.closest("[data-canned]");
    var select = box && box.querySelector("select");
    var editor = document.getElementById("reply-body");
    if (!select || !editor || select.selectedIndex < 0) {
      return;
    }
    var text = select.options[select.selectedIndex].getAttribute("data-body") || "";
    var start = editor.selectionStart || 0;
    var end = editor.selectionEnd || 0;
    var before = editor.value.slice(0, start);
    var gap = before && !/\n$/.test(before) ? "\n\n" : "";
    editor.value = before + gap + text + editor.value.slice(end);
    var caret = (before + gap + text).length;
    editor.focus();
    editor.setSelectionRange(caret, caret);
  }
})();
