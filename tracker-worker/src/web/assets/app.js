// jobmon dashboard: the only script, and optional (every page reads without it, and the
// overview refreshes itself with a meta refresh): the state filter applies on change.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector("form.filters");
  var select = form && form.querySelector("select[name=state]");
  if (select) {
    select.addEventListener("change", function () { form.submit(); });
  }
});
