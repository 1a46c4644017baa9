/* Progressive enhancement for the customer pages; every page works without it.
   - times: <time datetime data-format="moment|day"> shown in the reader's time zone
   - forms: focus moves to the error summary
   - order page: a copy button next to each login detail; ticking an account names it in the
     reason of a claim */
(function () {
  "use strict";

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }

  function localTimes() {
    if (!window.Intl || !Intl.DateTimeFormat) {
      return; // the UTC wording stays
    }
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (!zone || zone === "UTC" || zone === "Etc/UTC") {
      return;
    }
    var days = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "long", year: "numeric" });
    var zones = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", timeZoneName: "short" });
    document.querySelectorAll("time[datetime][data-format]").forEach(function (el) {
      var moment = new Date(el.getAttribute("datetime"));
      if (isNaN(moment.getTime())) {
        return;
      }
      var text = days.format(moment);
      if (el.getAttribute("data-format") === "moment") {
        var name = "";
        zones.formatToParts(moment).forEach(function (part) {
          if (part.type === "timeZoneName") {
            name = part.value;
          }
        });
        text += ", " + pad(moment.getHours()) + ":" + pad(moment.getMinutes()) + (name ? " " + name : "");
      }
      el.setAttribute("title", el.textContent);
      el.textContent = text;
      el.setAttribute("data-local", zone);
    });
  }

  function focusErrors() {
    var summary = document.querySelector("[data-error-summary]");
    if (!summary) {
      return;
    }
    summary.focus();
    // A link in the summary puts the cursor in its field (a plain #fragment only scrolls).
    summary.querySelectorAll('a[href^="#"]').forEach(function (link) {
      link.addEventListener("click", function (event) {
        var field = document.getElementById(link.getAttribute("href").slice(1));
        if (field) {
          event.preventDefault();
          field.focus();
          field.scrollIntoView({ block: "center" });
        }
      });
    });
  }

  function copyButtons() {
    var body = document.body;
    if (!navigator.clipboard || !body.getAttribute("data-copy-label")) {
      return;
    }
    var label = body.getAttribute("data-copy-label");
    var done = body.getAttribute("data-copied-label");
    document.querySelectorAll("[data-copy]").forEach(function (value) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "copy";
      button.textContent = label;
      button.setAttribute("aria-label", label + ": " + (value.getAttribute("data-copy") || ""));
      var status = document.createElement("span");
      status.className = "copy-status";
      status.setAttribute("role", "status");
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(value.textContent).then(function () {
          status.textContent = done;
          window.setTimeout(function () { status.textContent = ""; }, 3000);
        });
      });
      value.parentNode.appendChild(button);
      value.parentNode.appendChild(status);
    });
  }

  function claimReason() {
    var details = document.querySelector("[data-claim-details]");
    if (!details) {
      return;
    }
    var boxes = document.querySelectorAll("input[data-claim-account]");
    boxes.forEach(function (box) {
      box.addEventListener("change", function () {
        var names = [];
        boxes.forEach(function (b) {
          if (b.checked) {
            names.push(b.getAttribute("data-claim-account"));
          }
        });
        var prefix = details.getAttribute("data-prefix") || "";
        var text = details.value.replace(/^[^\n]*\n?/, function (first) {
          return first.indexOf(prefix) === 0 ? "" : first;
        });
        details.value = names.length ? prefix + names.join(", ") + "\n" + text : text;
        if (box.checked) {
          var line = document.getElementById(box.getAttribute("data-line-box"));
          if (line) {
            line.checked = true;
          }
        }
      });
    });
  }

  function start() {
    localTimes();
    focusErrors();
    copyButtons();
    claimReason();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
