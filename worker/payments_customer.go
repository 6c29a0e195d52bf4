package worker

// Customer tokens: how a request may name an existing Stripe customer.
//
// A Checkout Session for a customer shows that customer's saved payment
// methods and lets the shopper pay with them, so a customer ID must never be
// taken from a browser as is. Instead the request carries a short-lived token
// that only the shop can make, signed with the CUSTOMER_TOKEN_SECRET secret:
//
//	v1.<customer id>.<expiry, unix seconds>.<signature>
//	signature = first 32 hex digits of HMAC-SHA256(CUSTOMER_TOKEN_SECRET, "v1.<customer id>.<expiry>")
//
// The shop's own login system (which knows who the shopper is) computes it,
// or asks the operator API: POST /admin/customer_tokens {"customer":"cus_..."}.
// Without CUSTOMER_TOKEN_SECRET, tokens are refused.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const (
	customerTokenVersion = "v1"
	// DefaultCustomerTokenTTL and MaxCustomerTokenTTL bound a token's life.
	DefaultCustomerTokenTTL = time.Hour
	MaxCustomerTokenTTL     = 30 * 24 * time.Hour
	customerTokenSigLen     = 32 // hex digits
)

// now is the clock; tests replace it.
var now = time.Now

func (s *Server) customerTokenSignature(cus string, exp int64) string {
	mac := hmac.New(sha256.New, []byte(s.cfg.CustomerTokenSecret))
	mac.Write([]byte(customerTokenVersion + "." + cus + "." + strconv.FormatInt(exp, 10)))
	return hex.EncodeToString(mac.Sum(nil))[:customerTokenSigLen]
}

// mintCustomerToken makes a token for cus valid for ttl.
func (s *Server) mintCustomerToken(cus string, ttl time.Duration) (token string, exp int64) {
	exp = now().Add(ttl).Unix()
	return customerTokenVersion + "." + cus + "." + strconv.FormatInt(exp, 10) + "." + s.customerTokenSignature(cus, exp), exp
}

// verifyCustomerToken returns the customer a valid, unexpired token names.
func (s *Server) verifyCustomerToken(tok string) (string, *apiError) {
	if s.cfg.CustomerTokenSecret == "" {
		return "", badRequest("customer_tokens_disabled", "customerToken", "this shop does not accept customer tokens (CUSTOMER_TOKEN_SECRET is not set)")
	}
	invalid := badRequest("invalid_customer_token", "customerToken", "customerToken is not a valid token from this shop")
	if len(tok) > 300 {
		return "", invalid
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 4 || parts[0] != customerTokenVersion || !hasIDPrefix(parts[1], "cus_") || len(parts[3]) != customerTokenSigLen {
		return "", invalid
	}
	exp, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || exp <= 0 {
		return "", invalid
	}
	if !hmac.Equal([]byte(parts[3]), []byte(s.customerTokenSignature(parts[1], exp))) {
		return "", invalid
	}
	t := now()
	if exp < t.Unix() {
		return "", badRequest("customer_token_expired", "customerToken", "customerToken has expired; sign in again")
	}
	if exp > t.Add(MaxCustomerTokenTTL).Unix() {
		return "", invalid
	}
	return parts[1], nil
}

// POST /admin/customer_tokens {"customer":"cus_...","ttl_seconds":3600}
// → {"token","customer","expires_at"}.
func (s *Server) handleAdminCustomerToken(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Customer   string `json:"customer"`
		TTLSeconds int64  `json:"ttl_seconds"`
	}
	if aerr := readAdminJSON(w, r, &req); aerr != nil {
		writeError(w, aerr)
		return
	}
	if s.cfg.CustomerTokenSecret == "" {
		writeError(w, &apiError{Status: http.StatusConflict, Code: "customer_tokens_disabled", Message: "set the CUSTOMER_TOKEN_SECRET secret to issue customer tokens"})
		return
	}
	if !hasIDPrefix(req.Customer, "cus_") {
		writeError(w, badRequest("invalid_customer", "customer", "customer must be a Stripe customer id (cus_...)"))
		return
	}
	ttl := DefaultCustomerTokenTTL
	if req.TTLSeconds != 0 {
		if req.TTLSeconds < 60 || req.TTLSeconds > int64(MaxCustomerTokenTTL/time.Second) {
			writeError(w, badRequest("invalid_ttl", "ttl_seconds", "ttl_seconds must be between 60 and %d", int64(MaxCustomerTokenTTL/time.Second)))
			return
		}
		ttl = time.Duration(req.TTLSeconds) * time.Second
	}
	tok, exp := s.mintCustomerToken(req.Customer, ttl)
	writeJSON(w, http.StatusOK, struct {
		Token     string `json:"token"`
		Customer  string `json:"customer"`
		ExpiresAt int64  `json:"expires_at"`
	}{tok, req.Customer, exp})
}
