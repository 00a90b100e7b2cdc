// Colour scheme: follows prefers-color-scheme until the user picks one with the header's
// toggle; the choice is remembered in localStorage. Loaded in <head> (not deferred) so the
// page never flashes the wrong scheme. Also: the language form submits when changed.
(function () {
  "use strict";
  const KEY = "chat.theme";
  const root = document.documentElement;

  function stored() {
    try {
      const value = localStorage.getItem(KEY);
      return value === "dark" || value === "light" ? value : null;
    } catch (err) {
      return null;
    }
  }

  function systemDark() {
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
  }

  function effective() {
    return stored() || (systemDark() ? "dark" : "light");
  }

  function apply() {
    const theme = effective();
    root.dataset.theme = theme;
    const button = document.getElementById("theme-toggle");
    if (button) button.setAttribute("aria-pressed", theme === "dark" ? "true" : "false");
  }

  apply();

  document.addEventListener("DOMContentLoaded", function () {
    apply();
    const button = document.getElementById("theme-toggle");
    if (button) {
      button.addEventListener("click", function () {
        const next = effective() === "dark" ? "light" : "dark";
        try {
          localStorage.setItem(KEY, next);
        } catch (err) {
          /* storage disabled: the choice lasts for this page */
        }
        root.dataset.theme = next;
        apply();
        if (!stored()) root.dataset.theme = next;
      });
    }
    const language = document.getElementById("language-select");
    if (language && language.form) {
      language.addEventListener("change", function () {
        language.form.submit();
      });
    }
  });
  if (window.matchMedia) {
    window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", apply);
  }
})();
