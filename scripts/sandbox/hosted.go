package main

// Hosted Checkout (ui_mode=hosted): the session's url points at a page the
// sandbox serves itself, /c/pay/{id}, which renders the Stripe.js stand-in's
// payment form for the session and, once paid, sends the shopper to the
// session's success_url (cancel_url is the page's back link), as Stripe's
// hosted Checkout page does.

import (
	"html/template"
	"net/http"
)

// hostedPath is where hosted Checkout pages are served, followed by the session id.
const hostedPath = "/c/pay/"

// hostedURLsLocked reads success_url and cancel_url for a hosted session and
// refuses the embedded-only parameters.
func (sb *Sandbox) hostedURLsLocked(s *session, root *param) *apiError {
	for _, name := range []string{"return_url", "redirect_on_completion"} {
		if root.child(name) != nil {
			return invalid(name, "", "%s is not allowed when ui_mode is %s; use success_url and cancel_url instead.", name, s.UIMode)
		}
	}
	for _, f := range []struct {
		name string
		dst  **string
	}{{"success_url", &s.SuccessURL}, {"cancel_url", &s.CancelURL}} {
		v, ok, err := str(root, f.name, f.name)
		switch {
		case err != nil:
			return err
		case !ok:
			continue
		case v == "":
			return emptyString(f.name)
		case !validReturnURL(v):
			return invalid(f.name, "url_invalid", "Not a valid URL: %s must be an absolute http(s) URL.", f.name)
		}
		*f.dst = &v
	}
	return nil
}

// hosted reports whether s is a hosted Checkout session (basil or dahlia name).
func (s *session) hosted() bool { return s.UIMode == "hosted" || s.UIMode == "hosted_page" }

// setHostedURLLocked gives a just-created hosted session its url, on the host
// the API request was sent to (the address the sandbox is reachable at).
func (sb *Sandbox) setHostedURLLocked(v any, r *http.Request) {
	o, ok := v.(*sessionObject)
	if !ok {
		return
	}
	s := sb.sessions[o.ID]
	if s == nil || !s.hosted() {
		return
	}
	s.URL = "http://" + r.Host + hostedPath + s.ID
	o.URL = s.URL
}

var hostedPage = template.Must(template.New("hosted").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Stripe sandbox — hosted Checkout</title>
<link rel="icon" href="data:,">
<script src="/stripe.js"></script>
</head>
<body>
{{if .CancelURL}}<p><a data-sandbox-cancel href="{{.CancelURL}}">← Back</a></p>{{end}}
<div id="checkout" data-client-secret="{{.Secret}}"></div>
<script>
  const node = document.getElementById("checkout");
  Stripe("pk_test_sandbox").initEmbeddedCheckout({ clientSecret: node.dataset.clientSecret }).then((c) => c.mount(node));
</script>
</body>
</html>
`))

// serveHosted serves /c/pay/{id}: the hosted Checkout page of a session.
func (sb *Sandbox) serveHosted(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, "GET, HEAD")
		return
	}
	id := r.PathValue("id")
	sb.mu.Lock()
	s := sb.sessions[id]
	var data struct{ Secret, CancelURL string }
	if s != nil && s.URL != "" {
		data.Secret = s.ClientSecret
		if s.CancelURL != nil {
			data.CancelURL = *s.CancelURL
		}
	}
	sb.mu.Unlock()
	if data.Secret == "" {
		writeJSON(w, http.StatusNotFound, devError(http.StatusNotFound, "resource_missing", "",
			"No hosted Checkout Session %q in the sandbox (was it restarted?).", id).envelope())
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	hostedPage.Execute(w, data)
}
