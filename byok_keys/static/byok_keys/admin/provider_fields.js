// The provider key form of the admin: show only the chosen provider's credential inputs.
// Every provider's inputs are on the add page, grouped per provider (fieldsets with the classes
// "byok-credentials-for-<provider id>", and "byok-credentials-single-key" for providers with one key);
// the server reads only the chosen provider's. A static file (no inline script), so a CSP without
// 'unsafe-inline' allows it; without it every group stays visible, each named for its provider.
"use strict";
(function () {
  var PREFIX = "byok-credentials-for-";

  function providerOf(fieldset) {
    for (var i = 0; i < fieldset.classList.length; i++) {
      var name = fieldset.classList[i];
      if (name.indexOf(PREFIX) === 0) {
        return name.slice(PREFIX.length);
      }
    }
    return null;
  }

  function setUp() {
    var select = document.getElementById("id_provider");
    var fieldsets = document.querySelectorAll("fieldset.byok-credentials");
    if (!select || select.tagName !== "SELECT" || fieldsets.length < 2) {
      return; // a key's own page: only its provider's inputs are there
    }
    var withFields = {};
    fieldsets.forEach(function (fieldset) {
      var provider = providerOf(fieldset);
      if (provider) {
        withFields[provider] = true;
      }
    });

    function show() {
      var chosen = select.value;
      fieldsets.forEach(function (fieldset) {
        var provider = providerOf(fieldset);
        var visible = provider ? provider === chosen : !withFields[chosen];
        fieldset.hidden = !visible;
      });
    }

    select.addEventListener("change", show);
    show();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
