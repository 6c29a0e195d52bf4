package worker

// The operator API: endpoints under /admin/ for the shop's owner (capture or
// cancel a payment, look up orders). Every request must carry
//
//	Authorization: Bearer <ADMIN_TOKEN>
//
// where ADMIN_TOKEN is a secret (`wrangler secret put ADMIN_TOKEN`, or
// .dev.vars). Without ADMIN_TOKEN the whole API is off. The token is compared
// in constant time; the API is closed to cross-origin pages (cors.go) and the
// embed snippet has no way to obtain the token.

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// minAdminTokenLen is the shortest ADMIN_TOKEN accepted (e.g. `openssl rand -hex 32` gives 64).
const minAdminTokenLen = 32

func isAdminPath(p string) bool { return p == "/admin" || strings.HasPrefix(p, "/admin/") }

func (s *Server) handleAdminPing(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

// admin wraps an operator handler with the bearer-token check.
func (s *Server) admin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := s.checkAdmin(r); err != nil {
			if err.Status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="checkout-kit admin"`)
			}
			writeError(w, err)
			return
		}
		h(w, r)
	}
}

func (s *Server) checkAdmin(r *http.Request) *apiError {
	if s.adminTokenHash == nil {
		return &apiError{Status: http.StatusForbidden, Code: "admin_disabled", Message: "the operator API is off; set the ADMIN_TOKEN secret to turn it on"}
	}
	auth := r.Header.Get("Authorization")
	const prefix = "Bearer "
	if len(auth) <= len(prefix) || !strings.EqualFold(auth[:len(prefix)], prefix) {
		return &apiError{Status: http.StatusUnauthorized, Code: "missing_token", Message: "send Authorization: Bearer <ADMIN_TOKEN>"}
	}
	// Hashing both sides first makes the comparison constant-time in the
	// token's length as well as its content.
	got := sha256.Sum256([]byte(strings.TrimSpace(auth[len(prefix):])))
	if subtle.ConstantTimeCompare(got[:], s.adminTokenHash) != 1 {
		return &apiError{Status: http.StatusUnauthorized, Code: "invalid_token", Message: "the admin token is wrong"}
	}
	return nil
}
