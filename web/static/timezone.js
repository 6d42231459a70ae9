// Tells the server the browser's timezone (a cookie), so times read in local time.
// Runs once per page; reloads only the first time the cookie changes.
(function () {
  "use strict";
  var zone;
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
  if (!zone || !/^[A-Za-z0-9_+\-\/]{1,64}$/.test(zone)) { return; }
  var current = document.cookie.split("; ").filter(function (c) { return c.indexOf("itr_tz=") === 0; })[0];
  if (current === "itr_tz=" + encodeURIComponent(zone)) { return; }
  var secure = location.protocol === "https:" ? "; Secure" : "";
  document.cookie = "itr_tz=" + encodeURIComponent(zone) + "; Path=/; Max-Age=31536000; SameSite=Lax" + secure;
})();
