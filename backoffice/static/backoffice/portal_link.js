// The billing-portal link box (admin/includes/portal_link.html): clicking the field
// selects the link, the button copies it. A file rather than inline handlers, which the
// Content-Security-Policy does not run.
(function () {
  "use strict";
  var field = document.getElementById("portal-link");
  var button = document.getElementById("copy-portal-link");
  var status = document.getElementById("copy-status");
  if (!field || !button || !status) {
    return;
  }
  field.addEventListener("click", function () {
    field.select();
  });
  button.addEventListener("click", function () {
    function byHand() {
      field.select();
      status.textContent = "Select it and copy (Ctrl+C).";
    }
    // No clipboard API outside a secure context (plain http): select it for the person.
    if (!navigator.clipboard) {
      byHand();
      return;
    }
    navigator.clipboard.writeText(field.value).then(function () {
      status.textContent = "Copied.";
    }, byHand);
  });
})();
