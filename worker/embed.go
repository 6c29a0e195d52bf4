package worker

// Options of POST /create-checkout-session that the embed snippet (embed.js)
// uses on other sites: where Checkout sends the shopper afterwards, whether it
// redirects at all, and hosted (redirect) Checkout instead of embedded.
//
// Every URL handed to Stripe is built here from the site the request came from
// (an allowed Origin, else PUBLIC_URL or the worker's own origin, see cors.go)
// and a path: RETURN_PATH, or the request's returnPath/cancelPath when it is a
// plain path on that same site. A URL is never taken from the request, so the
// worker cannot be used as an open redirect.

import (
	"fmt"
	"net/http"
	"strings"

	"checkoutkit/worker/internal/stripeapi"

	"github.com/stripe/stripe-go/v82"
)

// maxReturnPath bounds a requested return or cancel path.
const maxReturnPath = 512

// sessionIDTemplate is filled in by Stripe with the Checkout Session id.
const sessionIDTemplate = "?session_id={CHECKOUT_SESSION_ID}"

// Values of the create request's redirectOnCompletion (Stripe's
// redirect_on_completion for embedded Checkout).
var redirectModes = map[string]bool{"always": true, "if_required": true, "never": true}

// isHosted reports whether the request asks for hosted Checkout.
func (req *createSessionRequest) isHosted() bool { return req.UIMode == "hosted" }

// returnSite is the site the shopper comes back to, and its origin: the
// allowed origin the request came from, else PUBLIC_URL (which may carry a
// path prefix), else the worker's own origin.
func (s *Server) returnSite(r *http.Request) (site, origin string) {
	if kind, o := s.classifyOrigin(r); kind == originAllowed && o != s.publicOrigin {
		return o, o
	}
	if s.cfg.PublicURL != "" {
		return s.cfg.PublicURL, s.publicOrigin
	}
	o := requestOrigin(r)
	return o, o
}

// applyReturn validates the request's return options and sets ui_mode,
// return_url / redirect_on_completion (embedded) or success_url / cancel_url
// (hosted) on params.
func (s *Server) applyReturn(params *stripe.CheckoutSessionCreateParams, r *http.Request, req *createSessionRequest) *apiError {
	switch req.UIMode {
	case "", "embedded", "hosted":
	default:
		return badRequest("invalid_ui_mode", "uiMode", "uiMode must be embedded or hosted")
	}
	if req.RedirectOnCompletion != "" && !redirectModes[req.RedirectOnCompletion] {
		return badRequest("invalid_redirect_on_completion", "redirectOnCompletion", "redirectOnCompletion must be always, if_required or never")
	}
	for _, f := range []struct{ name, value string }{{"returnPath", req.ReturnPath}, {"cancelPath", req.CancelPath}} {
		if f.value == "" {
			continue
		}
		if msg := checkReturnPath(f.value); msg != "" {
			return badRequest("invalid_"+snakeCase(f.name), f.name, "%s %s", f.name, msg)
		}
	}

	site, origin := s.returnSite(r)
	returnURL := site + s.cfg.ReturnPath + sessionIDTemplate
	if req.ReturnPath != "" {
		returnURL = origin + req.ReturnPath + sessionIDTemplate
	}

	if req.isHosted() {
		if req.RedirectOnCompletion != "" {
			return badRequest("invalid_redirect_on_completion", "redirectOnCompletion", "redirectOnCompletion applies only to embedded Checkout; hosted Checkout always returns to returnPath")
		}
		params.UIMode = stripe.String(string(stripe.CheckoutSessionUIModeHosted))
		params.ReturnURL = nil
		params.SuccessURL = stripe.String(returnURL)
		if req.CancelPath != "" {
			params.CancelURL = stripe.String(origin + req.CancelPath)
		}
		return nil
	}

	if req.CancelPath != "" {
		return badRequest("invalid_cancel_path", "cancelPath", "cancelPath applies only to hosted Checkout (uiMode hosted)")
	}
	params.UIMode = stripe.String(string(stripe.CheckoutSessionUIModeEmbedded))
	if req.RedirectOnCompletion != "" {
		params.RedirectOnCompletion = stripe.String(req.RedirectOnCompletion)
	}
	if req.RedirectOnCompletion == "never" {
		if req.ReturnPath != "" {
			return badRequest("invalid_return_path", "returnPath", "returnPath cannot be used with redirectOnCompletion never: the shopper is never sent back")
		}
		params.ReturnURL = nil // Stripe refuses a return_url with "never"
		return nil
	}
	params.ReturnURL = stripe.String(returnURL)
	return nil
}

// sessionAnswer is what the browser gets for a created session: the client
// secret for embedded Checkout, the Checkout page's URL for hosted Checkout.
func sessionAnswer(req *createSessionRequest, sess *stripeapi.CheckoutSession) (any, *apiError) {
	if req.isHosted() {
		if !strings.HasPrefix(sess.URL, "https://") && !strings.HasPrefix(sess.URL, "http://") {
			return nil, &apiError{Status: http.StatusBadGateway, Code: "stripe_bad_answer", Message: "Stripe did not return a Checkout page address; please try again"}
		}
		return struct {
			URL string `json:"url"`
		}{sess.URL}, nil
	}
	return struct {
		ClientSecret string `json:"clientSecret"`
	}{sess.ClientSecret}, nil
}

// checkReturnPath accepts an absolute path on the requesting site, as
// location.pathname gives it (percent-encoded), and nothing that could leave
// the site or smuggle a query, fragment or Stripe template into the URL.
// It returns what is wrong, or "".
func checkReturnPath(p string) string {
	switch {
	case len(p) > maxReturnPath:
		return fmt.Sprintf("must be at most %d characters", maxReturnPath)
	case !strings.HasPrefix(p, "/"):
		return "must be a path on this site starting with /"
	case strings.HasPrefix(p, "//"):
		return "must be a path on this site, not another site's address"
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("-._~!$&'()*+,;=:@/", c) >= 0:
		case c == '%' && i+2 < len(p) && isHex(p[i+1]) && isHex(p[i+2]):
		default:
			return fmt.Sprintf("must be a plain path (letters, digits, / - . _ ~ and percent-escapes); %q is not allowed", string(c))
		}
	}
	return ""
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// snakeCase turns "returnPath" into "return_path" for error codes.
func snakeCase(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
