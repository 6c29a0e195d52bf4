package worker

import "net/http"

// apiSecurityHeaders are set on every answer the worker writes itself (JSON
// bodies and errors; the site's pages get theirs from site/_headers). An API
// answer is data, never a document: it may load nothing and be framed by
// nothing, it is never cached or sniffed as another type, it sends no
// referrer, and other sites cannot embed it with <script> or <img> (their
// pages read it only through CORS, see cors.go).
var apiSecurityHeaders = [...][2]string{
	{"Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"},
	{"X-Frame-Options", "DENY"},
	{"X-Content-Type-Options", "nosniff"},
	{"Referrer-Policy", "no-referrer"},
	{"Cross-Origin-Resource-Policy", "same-origin"},
	{"Cache-Control", "no-store"},
}

func setAPISecurityHeaders(h http.Header) {
	for _, kv := range apiSecurityHeaders {
		h.Set(kv[0], kv[1])
	}
}
