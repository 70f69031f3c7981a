// tocsin's one script: progressive enhancement only. Every action works
// without it (plain forms). It keeps "12 min ago" current and, on a page
// whose section has data-live, reloads that section when the server says
// something changed (Server-Sent Events).
"use strict";

// The same words as src/web/time.rs.
function ago(iso, now) {
  var secs = Math.round((now - Date.parse(iso)) / 1000);
  var min = Math.floor(Math.abs(secs) / 60), w;
  if (min === 0) return "just now";
  if (min < 60) w = min + " min";
  else if (min < 1440) w = (min % 60 === 0 || min >= 600) ? Math.floor(min / 60) + " h"
    : Math.floor(min / 60) + " h " + (min % 60) + " min";
  else if (min < 2880) w = "1 day";
  else w = Math.floor(min / 1440) + " days";
  return secs < 0 ? "in " + w : w + " ago";
}

function refreshTimes() {
  var now = Date.now();
  document.querySelectorAll("time[data-ago]").forEach(function (t) {
    t.textContent = ago(t.getAttribute("datetime"), now);
  });
}

function live(section) {
  if (!window.EventSource) return;
  var source = new EventSource(section.getAttribute("data-live"));
  source.onmessage = function () {
    fetch(location.href, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) return;
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById(section.id);
        if (fresh) section.innerHTML = fresh.innerHTML;
        refreshTimes();
      });
  };
}

document.addEventListener("DOMContentLoaded", function () {
  refreshTimes();
  setInterval(refreshTimes, 30000);
  document.querySelectorAll("[data-live]").forEach(live);
});
