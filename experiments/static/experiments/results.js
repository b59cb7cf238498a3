// The results page's goal picker shows the chosen goal at once. In a file rather than an
// onchange attribute: the Content-Security-Policy runs no inline script.
document.addEventListener("DOMContentLoaded", () => {
  for (const field of document.querySelectorAll("[data-submit-on-change]")) {
    field.addEventListener("change", () => field.form.submit());
  }
});
