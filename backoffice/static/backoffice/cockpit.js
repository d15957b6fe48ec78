// The registration cockpit (admin/registrar/registration/change_form.html): while a
// registrar process is in flight, ask <pk>/status/ every few seconds, keep the badges
// current, and reload the page once when the process has ended, so the actions and the
// timeline show its result. A file rather than inline script, which the
// Content-Security-Policy does not run.
(function () {
  "use strict";
  var panel = document.getElementById("registration-panel");
  if (!panel || panel.getAttribute("data-busy") !== "true") {
    return;
  }
  var url = panel.getAttribute("data-status-url");
  var every = parseInt(panel.getAttribute("data-poll-ms"), 10) || 3000;
  var live = document.getElementById("cockpit-live");
  var failures = 0;

  function swapBadges(badges) {
    badges.forEach(function (badge) {
      var element = document.getElementById("summary-" + badge.key);
      if (!element) {
        return;
      }
      element.textContent = badge.text;
      element.className = "badge badge-" + badge.tone;
    });
  }

  function tell(text) {
    if (live) {
      live.textContent = text;
    }
  }

  function ask() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"},
                cache: "no-store"})
      .then(function (response) {
        if (!response.ok) {
          throw new Error("status " + response.status);
        }
        return response.json();
      })
      .then(function (state) {
        failures = 0;
        swapBadges(state.badges || []);
        if (state.busy) {
          tell("A process is in flight; this page updates by itself.");
          window.setTimeout(ask, every);
        } else {
          panel.setAttribute("data-busy", "false");
          tell("The process has ended; showing its result.");
          window.location.reload();
        }
      })
      .catch(function () {
        // The back-office did not answer (a restart, a lost connection): try again,
        // more slowly, and say so rather than spin silently.
        failures += 1;
        tell("Could not check the process just now; trying again.");
        window.setTimeout(ask, every * Math.min(failures + 1, 10));
      });
  }

  tell("A process is in flight; this page updates by itself.");
  window.setTimeout(ask, every);
})();
