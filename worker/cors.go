package worker

// Cross-origin use of the worker: the embed snippet (embed.js) runs on other
// sites and calls /config, /create-checkout-session and /session-status from
// there. Only origins named in ALLOWED_ORIGINS (plus PUBLIC_URL's origin) may
// do so; the worker's own pages are same-origin and need no CORS at all.
//
// Rules, applied to every request before routing (guardOrigin):
//   - no Origin header, or the worker's own origin: served as before, no CORS
//     headers (curl, server-to-server calls, the kit's own pages);
//   - an allowed origin: served with Access-Control-Allow-Origin: <origin>;
//     preflights (OPTIONS with Access-Control-Request-Method) are answered 204
//     with the route's methods, Content-Type as the only request header and a
//     max-age;
//   - any other origin (including "null", sent by file: pages and sandboxed
//     frames): refused with 403 origin_not_allowed before any handler runs, so
//     nothing reaches Stripe. A refused preflight carries no CORS headers, so
//     the browser never sends the request it announced. A refused simple
//     request (the snippet's GET /config) does echo the origin, so that the
//     page can read the refusal and tell its owner what to configure; the body
//     is the same fixed error for every refused origin and carries no data.
//
// Where Checkout sends the shopper afterwards is decided in embed.go, from the
// origin classified here.

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// corsMaxAge is how long a browser may reuse a preflight answer, in seconds
// (Chromium caps it at 7200).
const corsMaxAge = "7200"

// parseAllowedOrigins reads ALLOWED_ORIGINS: exact origins separated by commas
// or white space, e.g. "https://shop.example.com, https://www.example.com".
// Each is normalised (lower case, default port dropped, one trailing slash
// tolerated); wildcards, paths and "null" are refused.
func parseAllowedOrigins(raw string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, f := range strings.FieldsFunc(raw, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' }) {
		o, err := normalizeOrigin(f)
		if err != nil {
			return nil, err
		}
		if !seen[o] {
			seen[o] = true
			out = append(out, o)
		}
	}
	return out, nil
}

// normalizeOrigin turns "HTTPS://Shop.Example.com:443/" into
// "https://shop.example.com", the form browsers send in the Origin header.
func normalizeOrigin(s string) (string, error) {
	if s == "*" || strings.Contains(s, "*") {
		return "", fmt.Errorf("%q: wildcards are not allowed; list each site's origin, e.g. https://shop.example.com", s)
	}
	if strings.EqualFold(s, "null") {
		return "", fmt.Errorf(`"null" is not allowed: it is the origin of file: pages and sandboxed frames, which anyone can create`)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%q is not an origin; want scheme://host[:port], e.g. https://shop.example.com", s)
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "#") {
		return "", fmt.Errorf("%q is not an origin: give only scheme://host[:port], without path, query or user", s)
	}
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host, nil
}

// originOf returns the origin of an absolute URL such as PUBLIC_URL ("" if none).
func originOf(rawURL string) string {
	if rawURL == "" {
		return ""
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return ""
	}
	u.Path, u.RawPath, u.RawQuery, u.Fragment, u.User = "", "", "", "", nil
	o, err := normalizeOrigin(u.String())
	if err != nil {
		return ""
	}
	return o
}

// originKind classifies a request by its Origin header.
type originKind int

const (
	originAbsent  originKind = iota // no Origin header
	originSelf                      // the worker's own origin: same-origin request
	originAllowed                   // another origin, allowed: CORS applies
	originRefused                   // another origin, not allowed
)

// classifyOrigin reports how the request's Origin relates to the allowlist,
// and the origin itself.
func (s *Server) classifyOrigin(r *http.Request) (originKind, string) {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return originAbsent, ""
	}
	if strings.EqualFold(origin, requestOrigin(r)) {
		return originSelf, origin
	}
	if s.originAllowed(origin) {
		return originAllowed, origin
	}
	return originRefused, origin
}

// originAllowed is exact matching, as browsers send origins in canonical form.
// "null" is never in the set (parseAllowedOrigins refuses it).
func (s *Server) originAllowed(origin string) bool {
	return s.allowedOrigins[origin]
}

// guardOrigin applies the cross-origin rules above. It reports whether it has
// answered the request (a preflight or a refusal).
func (s *Server) guardOrigin(w http.ResponseWriter, r *http.Request) bool {
	h := w.Header()
	// Answers differ by Origin, so caches must key on it.
	h.Add("Vary", "Origin")
	kind, origin := s.classifyOrigin(r)
	preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
	if isAdminPath(r.URL.Path) && (kind == originAllowed || kind == originRefused) {
		// The operator API is closed to every other origin, allowed or not:
		// no CORS headers, so no page elsewhere can read or send to it.
		writeError(w, &apiError{Status: http.StatusForbidden, Code: "cross_origin_admin", Message: "the operator API cannot be called from a web page on another origin"})
		return true
	}
	switch kind {
	case originRefused:
		if !preflight {
			h.Set("Access-Control-Allow-Origin", origin)
		}
		writeError(w, &apiError{
			Status:  http.StatusForbidden,
			Code:    "origin_not_allowed",
			Message: "this shop does not accept requests from " + displayOrigin(origin) + "; its owner can add the site's origin to ALLOWED_ORIGINS",
		})
		return true
	case originAllowed:
		h.Set("Access-Control-Allow-Origin", origin)
		if !preflight {
			return false
		}
		methods := s.allowedMethods(r) // routes.go: the route table's methods for the path
		if methods == "" || !canonicalPath(r.URL.Path) {
			return false // answered by the route table: 404
		}
		h.Add("Vary", "Access-Control-Request-Method")
		h.Add("Vary", "Access-Control-Request-Headers")
		h.Set("Access-Control-Allow-Methods", methods)
		h.Set("Access-Control-Allow-Headers", "Content-Type")
		h.Set("Access-Control-Max-Age", corsMaxAge)
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	return false
}

// displayOrigin keeps an untrusted header short and printable in a message.
func displayOrigin(o string) string {
	if len(o) > 100 {
		o = o[:100] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, o)
}
