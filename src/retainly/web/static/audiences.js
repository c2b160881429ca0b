// The audience builder (retainly.web.pages_audiences): counts the rule as it is typed. A pause in
// typing posts the rule to /audiences/preview (the session's CSRF token in the X-CSRF-Token header)
// and puts the answer's preview section in place of this page's, so the count, sample and shares
// are the server's own rendering, as the "Count" button gives without JavaScript. Choosing a field
// in the catalog adds its name to the rule.
(function () {
  "use strict";
  var form = document.querySelector("form.builder");
  if (!form || !window.fetch || !window.DOMParser || !window.URLSearchParams) return;
  var box = form.querySelector("textarea[name=rule]");
  var token = form.querySelector("input[name=csrf_token]").value;
  var WAIT_MS = 400;  // a pause this long in typing counts the rule
  var timer = null, asked = 0;

  function current() { return document.querySelector("section.preview"); }

  function say(text) {
    var section = current(), line = document.createElement("p");
    line.className = "problem";
    line.setAttribute("role", "alert");
    line.textContent = text;
    section.replaceChildren(line);
    section.removeAttribute("aria-busy");
  }

  function count() {
    var mine = ++asked, body = new URLSearchParams();
    body.append("rule", box.value);
    current().setAttribute("aria-busy", "true");
    window.fetch("/audiences/preview", {method: "POST", body: body, credentials: "same-origin",
                                        headers: {"X-CSRF-Token": token}})
      .then(function (response) {
        return response.text().then(function (html) {
          if (mine !== asked) return;  // the rule changed since: a later answer is on its way
          var found = response.redirected ? null
            : new DOMParser().parseFromString(html, "text/html").querySelector("section.preview");
          if (found) current().replaceWith(found);
          else say("The page could not count the rule (the session may have ended): reload the page.");
        });
      })
      .catch(function () {
        if (mine === asked) say("The server did not answer: check the connection, then type again.");
      });
  }

  function later() {
    window.clearTimeout(timer);
    timer = window.setTimeout(count, WAIT_MS);
  }

  box.addEventListener("input", later);
  document.addEventListener("click", function (event) {
    var field = event.target.closest("[data-insert]");
    if (!field) return;
    var text = box.value, at = box.selectionEnd || text.length, name = field.getAttribute("data-insert");
    var before = text.slice(0, at), gap = before && !/\s$/.test(before) ? " " : "";
    box.value = before + gap + name + text.slice(at);
    box.focus();
    box.selectionStart = box.selectionEnd = at + gap.length + name.length;
    later();
  });
})();
