package main

// stripe-mock answers every ConfirmationToken retrieve with its fixture,
// which is live mode and expired in 2009, so the worker rightly refuses it
// (card_rules.go) and the confirm load would measure a 400. mockFix is a
// reverse proxy in front of stripe-mock that makes that one answer a usable
// test-mode token with the bench's shipping address; every other request
// and answer passes as it is. It runs in this process, so its CPU is not
// the worker's.

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// startMockFix serves the proxy to mockURL on a free port and returns its
// URL.
func startMockFix(mockURL string) (string, error) {
	target, err := url.Parse(mockURL)
	if err != nil {
		return "", err
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(res *http.Response) error {
		if res.Request.Method != http.MethodGet || !strings.HasPrefix(res.Request.URL.Path, "/v1/confirmation_tokens/") || res.StatusCode != 200 {
			return nil
		}
		var tok map[string]any
		err := json.NewDecoder(res.Body).Decode(&tok)
		res.Body.Close()
		if err != nil {
			return err
		}
		tok["livemode"], tok["expires_at"] = false, time.Now().Add(time.Hour).Unix()
		tok["setup_future_usage"], tok["payment_intent"], tok["setup_intent"] = nil, nil, nil
		tok["shipping"] = map[string]any{"name": "Jenny Rosen", "phone": nil,
			"address": map[string]any{"line1": "354 Oyster Point Blvd", "city": "South San Francisco", "state": "CA", "postal_code": "94080", "country": "US"}}
		b, err := json.Marshal(tok)
		if err != nil {
			return err
		}
		res.Body = io.NopCloser(bytes.NewReader(b))
		res.ContentLength = int64(len(b))
		res.Header.Set("Content-Length", strconv.Itoa(len(b)))
		return nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	go http.Serve(ln, proxy)
	return "http://" + ln.Addr().String(), nil
}
