// The example pages' own reaction to the checkout snippet's events. Nothing
// here is needed for checkout to work; it shows what a site owner can do.
// (A separate file, not an inline script: the pages run under a strict
// Content-Security-Policy.)
const status = document.getElementById("order-status");

function say(text) {
  if (status) status.textContent = text;
}

document.addEventListener("checkout:opened", (event) => {
  say(`Checkout open for ${event.detail.items.map((i) => `${i.quantity} × ${i.id}`).join(", ")}.`);
});

document.addEventListener("checkout:completed", (event) => {
  say(`Thank you! Your order is paid (${event.detail.sessionId}).`);
});

document.addEventListener("checkout:error", (event) => {
  // The snippet already shows the message next to the button; log the code too.
  console.warn("checkout:", event.detail.code, event.detail.message);
  if (event.detail.sessionId) say(`We could not confirm your payment: ${event.detail.message}`);
});
