/* retainly's site snippet (docs/api.md, "The site snippet"): sends the shop's own retainly server
   a visit when a session starts, and the product views, cart additions and checkouts the page
   reports; no third party, no cookie, no dependency. Loaded by the two lines `retainly sites add`
   prints; the page then calls:

     retainly('identify', {customer_id: 'C-1001'})   the shop's id of a logged-in customer (null: forget)
     retainly('view', {sku: 'MUG-1'})                a product page
     retainly('cart', {sku: 'MUG-1', quantity: 2})   added to the cart (the quantity is not stored)
     retainly('checkout', {order_id: '1042'})        an order placed (order_id optional)

   Each event carries a random id, so the server writes it once however often it arrives: one
   that fails to send is tried again once, with the same id. A session is a random id kept in
   localStorage while the visitor is active; after 30 minutes without an event a new one starts,
   and with it a visit. */
(function () {
  "use strict";
  var script = document.currentScript;
  var key = script && script.getAttribute("data-site-key");
  if (!key || !window.JSON) return;
  var endpoint = new URL("/api/v1/site/events", script.src).href;
  var SESSION = "retainly.session", CUSTOMER = "retainly.customer", IDLE_MS = 30 * 60 * 1000;
  var KINDS = {visit: "visit", view: "product_view", cart: "add_to_cart", checkout: "checkout"};
  var memory = {};  // where localStorage is refused (private modes): this page only

  function read(name) {
    try { return window.localStorage.getItem(name); } catch (e) { return memory[name] || null; }
  }
  function write(name, value) {
    try {
      if (value === null) window.localStorage.removeItem(name); else window.localStorage.setItem(name, value);
    } catch (e) { memory[name] = value; }
  }
  function randomId() {
    var bytes = new Uint8Array(16), out = "";
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    for (var i = 0; i < bytes.length; i++) out += (bytes[i] + 256).toString(16).slice(1);
    return out;
  }
  // The session, renewed by every event; true in `fresh` when it starts now.
  function session() {
    var now = Date.now(), found = null;
    try { found = JSON.parse(read(SESSION) || "null"); } catch (e) { found = null; }
    var fresh = !found || typeof found.id !== "string" || !(now - found.at < IDLE_MS);
    var current = {id: fresh ? randomId() : found.id, at: now};
    write(SESSION, JSON.stringify(current));
    return {id: current.id, fresh: fresh};
  }

  function post(body, retry) {
    var failed = function () { if (retry) setTimeout(function () { post(body, false); }, 3000); };
    if (window.fetch) {
      window.fetch(endpoint, {method: "POST", body: body, keepalive: true, mode: "cors", credentials: "omit",
                              headers: {"Content-Type": "text/plain;charset=UTF-8"}})
        .then(function (response) { if (response.status >= 500) failed(); }, failed);
    } else if (!(navigator.sendBeacon && navigator.sendBeacon(endpoint, body))) {
      failed();
    }
  }

  function send(kind, data, current) {
    var event = {event_id: randomId(), kind: kind};
    if (data && data.sku != null) event.sku = String(data.sku);
    if (data && data.order_id != null) event.order_id = String(data.order_id);
    var batch = {site_key: key, session_id: current.id, events: [event]};
    var customer = read(CUSTOMER);
    if (customer) batch.customer_id = customer;
    post(JSON.stringify(batch), true);
  }

  function retainly(command, data) {
    if (command === "identify") {
      write(CUSTOMER, data && data.customer_id != null && data.customer_id !== "" ? String(data.customer_id) : null);
      return;
    }
    var kind = KINDS[command];
    if (!kind) {
      if (window.console) window.console.warn("retainly: unknown command " + command);
      return;
    }
    var current = session();
    if (current.fresh && kind !== "visit") send("visit", null, current);
    send(kind, data, current);
  }

  var queued = (window.retainly && window.retainly.q) || [];
  window.retainly = retainly;
  for (var i = 0; i < queued.length; i++) retainly.apply(null, queued[i]);
  var current = session();
  if (current.fresh) send("visit", null, current);
})();
